package dpi

import "strings"

// Domain-generation-algorithm (DGA) names.
//
// Malware and Tor make up host names from random letters and digits;
// people name hosts after words. looksDGA tells the two apart on the
// label a name was registered under (the one left of the public suffix:
// "q4cyamnc6mtokjurvdclt" in www.q4cyamnc6mtokjurvdclt.com), because
// random sub-domain labels under a real domain (CDN hashes, DNS-over-HTTPS
// probes) are not what a DGA produces. Two tests, either suffices:
//
//  1. Digits and letters alternate three times or more ("e6r5p57kb…"):
//     words with a number ("python3porting", "1084bets10") switch twice at
//     most.
//  2. The letter pairs read like random letters rather than English: each
//     pair is looked up in commonBigrams (the 383 pairs that make up at
//     least 1 in 10,000 pairs of English text). About 8 % of the pairs of
//     real host names miss the table, against 43 % of the pairs of random
//     letters; the label is flagged when the log-likelihood ratio of the
//     two explanations passes dgaThreshold (about four misses more than
//     English would have).
//
// Labels shorter than 8 characters, labels with '-' or '_', IP literals
// and local names (.local, .lan, .home, .arpa) are never flagged: they
// carry too little evidence or are not registered names at all. Measured
// on 1,683 real host names (the conformance captures and the URLs in
// Debian's and Go's documentation): no false positive; on random names:
// 88 % of Tor's base32 names of 8–25 characters, 64 % of random a–z
// labels and 92 % of random a–z0–9 labels of 8–20 characters (see
// dga_test.go).

// commonBigrams[a] has bit b set when letter a followed by letter b is
// common in English. Generated from the letter pairs of the words in the
// comments of Go's standard library, keeping the pairs with a relative
// frequency of at least 1e-4.
var commonBigrams = [26]uint32{
	0x1febd6e, 0x19ecb37, 0x1beddff, 0x1fff93f,
	0x1fff9ff, 0x11ed93d, 0x01e79d5, 0x01e5111,
	0x2aefc7f, 0x0140010, 0x0142151, 0x17ec97d,
	0x01cdd1b, 0x13cfd7f, 0x07efd7f, 0x11edd9d,
	0x0100000, 0x17efd7f, 0x15ffdff, 0x1def9ff,
	0x08ef97f, 0x0e6d99f, 0x0466195, 0x088c137,
	0x00eb914, 0x0000111,
}

// Per-pair log-likelihood weights: a rare pair adds ln(0.43/0.08), a common
// one subtracts ln((1-0.08)/(1-0.43)); in hundredths to stay in integers.
const (
	dgaRareWeight   = 168
	dgaCommonWeight = 48
	dgaThreshold    = 400
	dgaMinLabel     = 8
)

// secondLevels are the labels under which ccTLDs register names
// ("example.co.uk"), so the registered label is one further left.
var secondLevels = [...]string{"co", "com", "net", "org", "gov", "edu", "ac", "or", "ne", "go", "gob", "mil"}

// registeredLabel returns the label a name was registered under, without a
// public-suffix list: the second-to-last label, or the third-to-last under
// a two-letter country code with a generic second level.
func registeredLabel(name string) string {
	name = strings.TrimSuffix(name, ".")
	last := strings.LastIndexByte(name, '.')
	if last <= 0 {
		return ""
	}
	tld := name[last+1:]
	rest := name[:last]
	label := rest[strings.LastIndexByte(rest, '.')+1:]
	if len(tld) == 2 && strings.Count(rest, ".") > 0 {
		for _, s := range secondLevels {
			if label == s {
				rest = rest[:len(rest)-len(label)-1]
				return rest[strings.LastIndexByte(rest, '.')+1:]
			}
		}
	}
	return label
}

// looksDGA reports whether a lower-case host name looks machine-generated.
func looksDGA(name string) bool {
	for _, s := range [...]string{".local", ".lan", ".home", ".arpa", ".localdomain"} {
		if strings.HasSuffix(name, s) {
			return false
		}
	}
	l := registeredLabel(name)
	if len(l) < dgaMinLabel {
		return false
	}
	transitions, score := 0, 0
	for i := 0; i < len(l); i++ {
		c := l[i]
		isDigit := '0' <= c && c <= '9'
		if !isDigit && (c < 'a' || c > 'z') {
			return false // '-', '_' or anything else: not a DGA label
		}
		if i == 0 {
			continue
		}
		p := l[i-1]
		pDigit := '0' <= p && p <= '9'
		if isDigit != pDigit {
			transitions++
		}
		if !isDigit && !pDigit {
			if commonBigrams[p-'a']&(1<<(c-'a')) != 0 {
				score -= dgaCommonWeight
			} else {
				score += dgaRareWeight
			}
		}
	}
	return transitions >= 3 || score > dgaThreshold
}
