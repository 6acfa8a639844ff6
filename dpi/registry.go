package dpi

import (
	"math/bits"
	"strconv"
	"strings"
)

// ProtoID is an nDPI protocol id (0 = Unknown). The numbers are nDPI's, so a
// policy that names protocol 91 means TLS here as it does in nProbe.
type ProtoID uint16

// CategoryID is an nDPI category id.
type CategoryID uint16

// Breed is nDPI's coarse trust rating of a protocol.
type Breed uint8

const (
	BreedSafe Breed = iota
	BreedAcceptable
	BreedFun
	BreedUnsafe
	BreedPotentiallyDangerous
	BreedDangerous
	BreedTrackerAds
	BreedUnrated
)

var breedNames = [...]string{"Safe", "Acceptable", "Fun", "Unsafe", "Potentially Dangerous", "Dangerous", "Tracker/Ads", "Unrated"}

func (b Breed) String() string {
	if int(b) < len(breedNames) {
		return breedNames[b]
	}
	return "Unrated"
}

type protoEntry struct {
	name     string
	category CategoryID
	breed    Breed
}

// String returns nDPI's name of the protocol ("TLS", "NetFlix", …).
func (p ProtoID) String() string {
	if int(p) < len(protoTable) {
		return protoTable[p].name
	}
	return "Unknown"
}

// Category is nDPI's default category of the protocol.
func (p ProtoID) Category() CategoryID {
	if int(p) < len(protoTable) {
		return protoTable[p].category
	}
	return CategoryUnspecified
}

// Breed is nDPI's trust rating of the protocol.
func (p ProtoID) Breed() Breed {
	if int(p) < len(protoTable) {
		return protoTable[p].breed
	}
	return BreedUnrated
}

// Valid reports whether p is a protocol id nDPI defines.
func (p ProtoID) Valid() bool { return int(p) < len(protoTable) }

// ProtoByName finds a protocol by nDPI name, ignoring case, or by numeric id.
func ProtoByName(s string) (ProtoID, bool) {
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil {
		if n >= 0 && n < NumProtocols {
			return ProtoID(n), true
		}
		return 0, false
	}
	for i := range protoTable {
		if strings.EqualFold(protoTable[i].name, s) {
			return ProtoID(i), true
		}
	}
	if p, ok := protoAliases[strings.ToLower(s)]; ok {
		return p, true
	}
	return 0, false
}

// protoAliases are spellings operators use that nDPI names differently.
var protoAliases = map[string]ProtoID{
	"netflix":   ProtoNetFlix,
	"ipsec":     ProtoIPSec,
	"disney+":   ProtoDisneyPlus,
	"teams":     ProtoTeams,
	"msteams":   ProtoTeams,
	"ftp":       ProtoFTPControl,
	"icmpv6":    ProtoICMPV6,
	"smb":       ProtoSMBv23,
	"doh":       ProtoDoHDoT,
	"dot":       ProtoDoHDoT,
	"torrent":   ProtoBitTorrent,
	"wireguard": ProtoWireGuard,
}

// ProtoNames lists every protocol name, indexed by id.
func ProtoNames() []string {
	out := make([]string, len(protoTable))
	for i := range protoTable {
		out[i] = protoTable[i].name
	}
	return out
}

// Category ids (nDPI's numbering).
const (
	CategoryUnspecified    CategoryID = 0
	CategoryMedia          CategoryID = 1
	CategoryVPN            CategoryID = 2
	CategoryEmail          CategoryID = 3
	CategoryDataTransfer   CategoryID = 4
	CategoryWeb            CategoryID = 5
	CategorySocialNetwork  CategoryID = 6
	CategoryDownload       CategoryID = 7
	CategoryGame           CategoryID = 8
	CategoryChat           CategoryID = 9
	CategoryVoIP           CategoryID = 10
	CategoryDatabase       CategoryID = 11
	CategoryRemoteAccess   CategoryID = 12
	CategoryCloud          CategoryID = 13
	CategoryNetwork        CategoryID = 14
	CategoryCollaborative  CategoryID = 15
	CategoryRPC            CategoryID = 16
	CategoryStreaming      CategoryID = 17
	CategorySystem         CategoryID = 18
	CategorySoftwareUpdate CategoryID = 19
	CategoryMusic          CategoryID = 25
	CategoryVideo          CategoryID = 26
	CategoryShopping       CategoryID = 27
	CategoryProductivity   CategoryID = 28
	CategoryFileSharing    CategoryID = 29
	CategoryConnCheck      CategoryID = 30
	CategoryIoTScada       CategoryID = 31
	CategoryVirtAssistant  CategoryID = 32
	CategoryCybersecurity  CategoryID = 33
	CategoryAdultContent   CategoryID = 34
	CategoryMining         CategoryID = 99
	CategoryMalware        CategoryID = 100
	CategoryAdvertisement  CategoryID = 101
	CategoryBannedSite     CategoryID = 102
	CategorySiteUnavail    CategoryID = 103
	CategoryAllowedSite    CategoryID = 104
	CategoryAntimalware    CategoryID = 105
	CategoryCryptoCurrency CategoryID = 106
	CategoryGambling       CategoryID = 107

	// NumCategories is one past the highest category id.
	NumCategories = 108
)

var categoryNames = func() (t [NumCategories]string) {
	for id, n := range map[CategoryID]string{
		0: "Unspecified", 1: "Media", 2: "VPN", 3: "Email", 4: "DataTransfer", 5: "Web",
		6: "SocialNetwork", 7: "Download", 8: "Game", 9: "Chat", 10: "VoIP", 11: "Database",
		12: "RemoteAccess", 13: "Cloud", 14: "Network", 15: "Collaborative", 16: "RPC",
		17: "Streaming", 18: "System", 19: "SoftwareUpdate",
		20: "User custom category 1", 21: "User custom category 2", 22: "User custom category 3",
		23: "User custom category 4", 24: "User custom category 5",
		25: "Music", 26: "Video", 27: "Shopping", 28: "Productivity", 29: "FileSharing",
		30: "ConnCheck", 31: "IoT-Scada", 32: "VirtAssistant", 33: "Cybersecurity",
		34: "AdultContent", 99: "Mining", 100: "Malware", 101: "Advertisement",
		102: "Banned_Site", 103: "Site_Unavailable", 104: "Allowed_Site", 105: "Antimalware",
		106: "Crypto_Currency", 107: "Gambling",
	} {
		t[id] = n
	}
	return t
}()

// categoryAliases are older nDPI names (≤ 3.4) and names from vendor docs.
var categoryAliases = map[string]CategoryID{
	"download-filetransfer-filesharing": CategoryDownload,
	"connectivitycheck":                 CategoryConnCheck,
	"messaging":                         CategoryChat,
	"collaboration":                     CategoryCollaborative,
	"custom1":                           20,
	"custom2":                           21,
	"custom3":                           22,
	"custom4":                           23,
	"custom5":                           24,
}

func (c CategoryID) String() string {
	if int(c) < len(categoryNames) && categoryNames[c] != "" {
		return categoryNames[c]
	}
	return "Unspecified"
}

// Valid reports whether c names a category nDPI defines.
func (c CategoryID) Valid() bool { return int(c) < len(categoryNames) && categoryNames[c] != "" }

// CategoryByName finds a category by name (ignoring case), old alias or id.
func CategoryByName(s string) (CategoryID, bool) {
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil {
		c := CategoryID(n)
		return c, n >= 0 && c.Valid()
	}
	for i, n := range categoryNames {
		if n != "" && strings.EqualFold(n, s) {
			return CategoryID(i), true
		}
	}
	c, ok := categoryAliases[strings.ToLower(s)]
	return c, ok
}

// CategoryNames lists the defined categories as id → name.
func CategoryNames() map[CategoryID]string {
	m := make(map[CategoryID]string)
	for i, n := range categoryNames {
		if n != "" {
			m[CategoryID(i)] = n
		}
	}
	return m
}

// RiskID is an nDPI flow risk id (bit position in a RiskSet).
type RiskID uint8

// RiskSet is nDPI's 64-bit risk bitmap: bit id = 1<<id.
type RiskSet uint64

// Severity of a risk, as nDPI grades it.
type Severity uint8

const (
	SeverityLow Severity = iota
	SeverityMedium
	SeverityHigh
	SeveritySevere
	SeverityCritical
	SeverityEmergency
)

var severityNames = [...]string{"Low", "Medium", "High", "Severe", "Critical", "Emergency"}

func (s Severity) String() string {
	if int(s) < len(severityNames) {
		return severityNames[s]
	}
	return "Low"
}

type riskEntry struct {
	enum        string
	name        string
	severity    Severity
	score       uint16
	clientShare uint8
}

// Risk ids used by the engine (nDPI's numbering).
const (
	RiskNone                     RiskID = 0
	RiskURLPossibleXSS           RiskID = 1
	RiskURLPossibleSQLInjection  RiskID = 2
	RiskURLPossibleRCEInjection  RiskID = 3
	RiskBinaryAppTransfer        RiskID = 4
	RiskKnownProtoNonStdPort     RiskID = 5
	RiskTLSSelfSigned            RiskID = 6
	RiskTLSObsoleteVersion       RiskID = 7
	RiskTLSWeakCipher            RiskID = 8
	RiskTLSCertExpired           RiskID = 9
	RiskTLSCertMismatch          RiskID = 10
	RiskHTTPSuspiciousUserAgent  RiskID = 11
	RiskNumericIPHost            RiskID = 12
	RiskHTTPSuspiciousURL        RiskID = 13
	RiskHTTPSuspiciousHeader     RiskID = 14
	RiskTLSNotCarryingHTTPS      RiskID = 15
	RiskSuspiciousDGADomain      RiskID = 16
	RiskMalformedPacket          RiskID = 17
	RiskSSHObsoleteClient        RiskID = 18
	RiskSSHObsoleteServer        RiskID = 19
	RiskSMBInsecureVersion       RiskID = 20
	RiskTLSSuspiciousESNI        RiskID = 21
	RiskUnsafeProtocol           RiskID = 22
	RiskDNSSuspiciousTraffic     RiskID = 23
	RiskTLSMissingSNI            RiskID = 24
	RiskHTTPSuspiciousContent    RiskID = 25
	RiskRiskyASN                 RiskID = 26
	RiskRiskyDomain              RiskID = 27
	RiskMaliciousFingerprint     RiskID = 28
	RiskMaliciousSHA1Certificate RiskID = 29
	RiskDesktopOrFileSharing     RiskID = 30
	RiskTLSUncommonALPN          RiskID = 31
	RiskTLSCertValidityTooLong   RiskID = 32
	RiskTLSSuspiciousExtension   RiskID = 33
	RiskTLSFatalAlert            RiskID = 34
	RiskSuspiciousEntropy        RiskID = 35
	RiskClearTextCredentials     RiskID = 36
	RiskDNSLargePacket           RiskID = 37
	RiskDNSFragmented            RiskID = 38
	RiskInvalidCharacters        RiskID = 39
	RiskPossibleExploit          RiskID = 40
	RiskTLSCertAboutToExpire     RiskID = 41
	RiskPunycodeIDN              RiskID = 42
	RiskErrorCodeDetected        RiskID = 43
	RiskHTTPCrawlerBot           RiskID = 44
	RiskAnonymousSubscriber      RiskID = 45
	RiskUnidirectionalTraffic    RiskID = 46
	RiskHTTPObsoleteServer       RiskID = 47
	RiskPeriodicFlow             RiskID = 48
	RiskMinorIssues              RiskID = 49
	RiskTCPIssues                RiskID = 50
	RiskFullyEncrypted           RiskID = 51
	RiskTLSALPNSNIMismatch       RiskID = 52
	RiskMalwareHostContacted     RiskID = 53
	RiskBinaryDataTransfer       RiskID = 54
	RiskProbingAttempt           RiskID = 55
	RiskObfuscatedTraffic        RiskID = 56
)

// Risks of ips's own, for facts nDPI has no risk for. They are numbered
// down from 63, the top of the 64-bit set, so that the risks nDPI appends
// upward from NumRisks never collide with them; their enum names start
// with IPS_ instead of NDPI_.
const (
	// RiskTLSECH: the ClientHello carries encrypted_client_hello (0xfe0d):
	// the name in clear is the outer, public one, and the real one is
	// hidden. GREASE ECH (sent by Chrome without an ECH configuration)
	// looks the same on the wire and is flagged too.
	RiskTLSECH RiskID = 63
	// RiskIDLimit is one past the highest risk id of either kind.
	RiskIDLimit = 64
)

// ipsRiskTable describes ips's risks, indexed by 63 - id.
var ipsRiskTable = [...]riskEntry{
	{"IPS_TLS_ECH", "TLS Encrypted Client Hello", SeverityLow, 10, 50},
}

// info is the risk's table entry, nil for an unknown id.
func (r RiskID) info() *riskEntry {
	if int(r) < len(riskTable) {
		return &riskTable[r]
	}
	if i := RiskIDLimit - 1 - int(r); r < RiskIDLimit && i < len(ipsRiskTable) {
		return &ipsRiskTable[i]
	}
	return nil
}

// String returns nDPI's human-readable name ("Obsolete TLS (v1.1 or older)").
func (r RiskID) String() string {
	if e := r.info(); e != nil {
		return e.name
	}
	return ""
}

// Enum returns nDPI's enum name ("NDPI_TLS_OBSOLETE_VERSION"), or ips's
// ("IPS_TLS_ECH").
func (r RiskID) Enum() string {
	if e := r.info(); e != nil {
		return e.enum
	}
	return ""
}

// Score is the risk's full score (client and server shares together).
func (r RiskID) Score() int {
	if e := r.info(); e != nil && r != RiskNone {
		return int(e.score)
	}
	return 0
}

// Severity is nDPI's grading of the risk.
func (r RiskID) Severity() Severity {
	if e := r.info(); e != nil {
		return e.severity
	}
	return SeverityLow
}

// Valid reports whether r is a real risk id: nDPI's 1..56, or ips's own.
func (r RiskID) Valid() bool { return r > 0 && r.info() != nil }

// RiskByName finds a risk by id, by enum name with or without the NDPI_
// (or IPS_) prefix, or by the human-readable name, ignoring case.
func RiskByName(s string) (RiskID, bool) {
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil {
		r := RiskID(n)
		return r, n > 0 && n < RiskIDLimit && r.Valid()
	}
	for r := RiskID(1); r < RiskIDLimit; r++ {
		e := r.info()
		if e == nil {
			continue
		}
		short := strings.TrimPrefix(strings.TrimPrefix(e.enum, "NDPI_"), "IPS_")
		if strings.EqualFold(e.enum, s) || strings.EqualFold(short, s) || strings.EqualFold(e.name, s) {
			return r, true
		}
	}
	// Names nDPI used before renames (ids are stable).
	switch strings.ToUpper(strings.TrimPrefix(strings.ToUpper(s), "NDPI_")) {
	case "HTTP_NUMERIC_IP_HOST":
		return RiskNumericIPHost, true
	case "MALICIOUS_JA3":
		return RiskMaliciousFingerprint, true
	case "TLS_EXTENSION_SUSPICIOUS":
		return RiskTLSSuspiciousExtension, true
	}
	return 0, false
}

// Has reports whether r is in the set.
func (s RiskSet) Has(r RiskID) bool { return s&(1<<r) != 0 }

// With returns s with r added.
func (s RiskSet) With(r RiskID) RiskSet { return s | 1<<r }

// Score is the sum of the scores of the risks in the set, as nDPI reports
// a flow's risk score.
func (s RiskSet) Score() int {
	t := 0
	for v := uint64(s) &^ 1; v != 0; v &= v - 1 {
		t += RiskID(bits.TrailingZeros64(v)).Score()
	}
	return t
}

// AppendNames appends the human names of the risks in s, in id order.
func (s RiskSet) AppendNames(dst []string) []string {
	for v := uint64(s) &^ 1; v != 0; v &= v - 1 {
		if r := RiskID(bits.TrailingZeros64(v)); r.Valid() {
			dst = append(dst, r.String())
		}
	}
	return dst
}
