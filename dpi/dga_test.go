package dpi

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// Host names seen in real traffic (the conformance captures, well-known
// services and software projects): none may look generated.
var realHostNames = strings.Fields(`
accounts.google.com ajax.googleapis.com ak.fbcdn.net aliyun.com android.clients.google.com
api.crittercism.com api.openstreetmap.org app-measurement.com app.adjust.com apptimize.com
apptv.cachefly.net beacon-api.aliyuncs.com bnetcmsus-a.akamaihd.net captive.apple.com
catasters.tumblr.com cdn.viber.com connectivitycheck.gstatic.com consent.cmp.oath.com
cookiex.ngd.yahoo.com cp.pushwoosh.com cres.waze.com datasaver.googleapis.com discord.gg
dl-media.viber.com dns.google dovecot.weberlab.de e12.whatsapp.net ess.apple.com eu.battle.net
feelinsonice-hrd.appspot.com fonts.gstatic.com googleads.g.doubleclick.net graph.facebook.com
i.instagram.com launcher.worldofwarcraft.com mail.google.com mozilla.cloudflare-dns.com
mtalk.google.com nydus.battle.net ocs.labgency.ws opera-mini.net p53-buy.itunes.apple.com
pagead2.googlesyndication.com play.googleapis.com pop.secureserver.net publist.mumble.info
quic.aiortc.org radcom.webex.com relay.ros.rockstargames.com roadshields.waze.com
s3-eu-west-1.amazonaws.com sb.scorecardresearch.com semanticlocation-pa.googleapis.com
settings.crashlytics.com sevenpitaly.com spd-pub-mi-01-01.fastwebnet.it ssl.google-analytics.com
str1-euwest1-34-246-231-140.addlive.io subscriptions-service.dazn-api.com time.android.com
upload.youtube.com us.scan.worldofwarcraft.com user-profile.ar.indazn.com utorrent.com
venetia.iad.appboy.com www.bing.com www.digicert.com www.iit.cnr.it www.mullvad.net www.ntop.org
www.ocs.fr www.speedtest.net www.wikipedia.it www.wireshark.org xtra1.gpsonextra.net yt3.ggpht.com
www.1084bets10.com 951c558a-5e07-47ca-a0c0-225da1b33163.is-cf.help.every1dns.net
cryptography.io dnsflagday.net dwarfstd.org lighttpd.net www.dragonflybsd.org python3porting.com
www.w3schools.com hpccsystems.com jedschmidt.com www.robotstxt.org www.willmcgugan.com
www.postgresql.org webkitgtk.org backbonejs.org rtmpdump.mplayerhq.hu www.youtube.com
www.bbc.co.uk news.bbc.co.uk www.amazon.co.jp mercadolibre.com.ar www.instagram.com
login.microsoftonline.com outlook.office365.com teams.microsoft.com www.netflix.com
www.stackoverflow.com github.githubassets.com www.spotify.com accounts.spotify.com
d3c4b5a6x7y8.cloudfront.net r4---sn-uxaxpu5ap5-2n5e.googlevideo.com
e1234.dscb.akamaiedge.net 1.2.3.4 10.0.0.1 printer.local nas.lan 4.3.2.1.in-addr.arpa
`)

func TestLooksDGARealNames(t *testing.T) {
	for _, n := range realHostNames {
		if looksDGA(n) {
			t.Errorf("%s flagged", n)
		}
	}
}

func TestLooksDGAGenerated(t *testing.T) {
	// Tor's names in tor.pcap: SNIs and certificate names.
	tor := []string{"www.q4cyamnc6mtokjurvdclt.com", "www.e6r5p57kbafwrxj3plz.com", "www.ct7ctrgb6cr7.com",
		"www.6gyip7tqim7sieb.com", "www.xkgk7fdx362yyyxib.com", "www.gg562izcxdvqdk.com", "www.fcsyvnlemwxv5p.net",
		"www.gmvuy6mtjbxevwo3w.com", "www.wohgpas45j6ucw.com", "www.l7xvysfnvkb.net"}
	for _, n := range tor {
		if !looksDGA(n) {
			t.Errorf("%s not flagged", n)
		}
	}
	// Known malware DGA families (examples published for Conficker,
	// Cryptolocker, Necurs).
	for _, n := range []string{"vhdkfxdlxxzo.info", "qjqlwbpqsxnpk.ru", "mnkhdjnvxdhbpg.net", "kqxvfsyohnqmwb.org"} {
		if !looksDGA(n) {
			t.Errorf("%s not flagged", n)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	gen := func(alphabet string, minLen, maxLen int, tld string) string {
		n := minLen + rng.IntN(maxLen-minLen+1)
		var b strings.Builder
		for range n {
			b.WriteByte(alphabet[rng.IntN(len(alphabet))])
		}
		return b.String() + tld
	}
	for _, c := range []struct {
		alphabet string
		min      float64
	}{
		{"abcdefghijklmnopqrstuvwxyz234567", 0.80},     // Tor's base32, 8–25 characters
		{"abcdefghijklmnopqrstuvwxyz0123456789", 0.85}, // letters and digits
		{"abcdefghijklmnopqrstuvwxyz", 0.55},           // letters only: the hardest
	} {
		hits := 0
		const n = 2000
		for range n {
			if looksDGA(gen(c.alphabet, 8, 20, ".com")) {
				hits++
			}
		}
		if rate := float64(hits) / n; rate < c.min {
			t.Errorf("alphabet %q: %.2f flagged, want ≥ %.2f", c.alphabet, rate, c.min)
		} else {
			t.Logf("alphabet %q: %.2f of random names flagged", c.alphabet, rate)
		}
	}
}

func TestRegisteredLabel(t *testing.T) {
	for in, want := range map[string]string{
		"www.example.com": "example", "a.b.example.co.uk": "example", "example.com.": "example",
		"x.y.com.br": "y", "com": "", "foo.org": "foo", "www.example.it": "example", "a.co.uk": "a",
	} {
		if got := registeredLabel(in); got != want {
			t.Errorf("registeredLabel(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCommonBigrams(t *testing.T) {
	has := func(p string) bool { return commonBigrams[p[0]-'a']&(1<<(p[1]-'a')) != 0 }
	for _, p := range []string{"th", "he", "in", "er", "an", "qu", "st"} {
		if !has(p) {
			t.Errorf("%s rare", p)
		}
	}
	for _, p := range []string{"qz", "jx", "vq", "zk", "xj", "qg"} {
		if has(p) {
			t.Errorf("%s common", p)
		}
	}
}

func FuzzLooksDGA(f *testing.F) {
	for _, n := range realHostNames[:10] {
		f.Add(n)
	}
	f.Add("www.q4cyamnc6mtokjurvdclt.com")
	f.Add("..")
	f.Fuzz(func(t *testing.T, name string) {
		_ = looksDGA(name)
		_ = registeredLabel(name)
		_ = torName(name, ".com", 4, 25)
	})
}
