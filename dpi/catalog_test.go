package dpi

import (
	"bufio"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// testCatalog builds a catalog from rules alone (no embedded files).
func testCatalog(t testing.TB, rules string) *Catalog {
	t.Helper()
	b := NewCatalogBuilder(true)
	if err := b.AddRules("test.txt", strings.NewReader(rules)); err != nil {
		t.Fatalf("rules: %v", err)
	}
	return b.Build()
}

func TestCatalogHostMatching(t *testing.T) {
	cat := testCatalog(t, `
host:"youtube.com",host:"ytimg.com"@YouTube
host:"google.com",host:"google.*"@Google
host:"mail.google.*"@GMail
host:"googleapis.com"@GoogleServices
host:"youtubei.googleapis.com"@YouTube
host:"=exact.example.org"@Dropbox
host:"example.org"@Box_Custom
host:"*-buy.itunes.apple.com",host:"buy.itunes.apple.com"@AppleStore
host:"itunes.apple.com"@AppleiTunes
host:"apple.com"@Apple
host:"captive.apple.com"@Apple/ConnCheck
host:"ads.example.net"@/Advertisement
host:"example.net"@Yahoo
host:"bad.apple.com"@/Malware
`)
	custom, _ := cat.ProtoByName("Box_Custom")
	tests := []struct {
		host string
		app  ProtoID
		cat  CategoryID
	}{
		// suffix: the name itself and every name below it
		{"youtube.com", ProtoYouTube, 0},
		{"www.youtube.com", ProtoYouTube, 0},
		{"a.b.c.ytimg.com", ProtoYouTube, 0},
		// label boundaries: a suffix of the string is not a suffix of names
		{"notyoutube.com", 0, 0},
		{"youtube.com.evil.net", 0, 0},
		{"youtube.co", 0, 0},
		{"com", 0, 0},
		{"", 0, 0},
		{".", 0, 0},
		// longest match wins, whatever the order of the rules
		{"youtubei.googleapis.com", ProtoYouTube, 0},
		{"android.googleapis.com", ProtoGoogleServices, 0},
		// case and the root dot
		{"WWW.YouTube.COM", ProtoYouTube, 0},
		{"www.youtube.com.", ProtoYouTube, 0},
		{"www.youtube.com:8080", ProtoYouTube, 0},
		{"notyoutube.com:443", 0, 0},
		// certificate wildcards
		{"*.ytimg.com", ProtoYouTube, 0},
		// exact rules match only the name; below it the suffix rule applies
		{"exact.example.org", ProtoDropbox, 0},
		{"www.exact.example.org", custom, 0},
		{"example.org", custom, 0},
		// brand rules: the labels, then one or more labels
		{"google.it", ProtoGoogle, 0},
		{"www.google.co.uk", ProtoGoogle, 0},
		{"google.com.br", ProtoGoogle, 0},
		{"mail.google.com", ProtoGMail, 0},
		{"mail.google.co.jp", ProtoGMail, 0},
		{"google", 0, 0},
		{"notgoogle.it", 0, 0},
		// a partial first label
		{"p53-buy.itunes.apple.com", ProtoAppleStore, 0},
		{"buy.itunes.apple.com", ProtoAppleStore, 0},
		{"xbuy.itunes.apple.com", ProtoAppleiTunes, 0},
		{"-buy.itunes.apple.com", ProtoAppleiTunes, 0},
		// category overrides come with their application
		{"captive.apple.com", ProtoApple, CategoryConnCheck},
		{"www.apple.com", ProtoApple, 0},
		// a category-only rule keeps the application of a shorter rule
		{"ads.example.net", ProtoYahoo, CategoryAdvertisement},
		{"x.ads.example.net", ProtoYahoo, CategoryAdvertisement},
		{"www.example.net", ProtoYahoo, 0},
		{"bad.apple.com", ProtoApple, CategoryMalware},
	}
	for _, tc := range tests {
		e, ok := cat.Host(tc.host)
		if e.App != tc.app || e.Category != tc.cat || ok != (tc.app != 0 || tc.cat != 0) {
			t.Errorf("Host(%q) = %v/%v %v, want %v/%v", tc.host, cat.ProtoName(e.App), e.Category, ok, cat.ProtoName(tc.app), tc.cat)
		}
	}
}

func TestCatalogCategoryOnlyAlone(t *testing.T) {
	cat := testCatalog(t, `host:"casino.example"@/Gambling`)
	e, ok := cat.Host("www.casino.example")
	if !ok || e.App != 0 || e.Category != CategoryGambling {
		t.Errorf("got %+v %v, want category Gambling only", e, ok)
	}
}

func TestCatalogAddrLongestMatch(t *testing.T) {
	cat := testCatalog(t, `
ip:17.0.0.0/8@Apple
ip:17.249.0.0/16@ApplePush
ip:17.249.1.1@Google
ipv6:2620:149::/32@Apple
ipv6:[2620:149:a44::]/48@ApplePush
ip:192.0.2.0/24:443@Dropbox
`)
	tests := []struct {
		addr string
		app  ProtoID
	}{
		{"17.1.2.3", ProtoApple},
		{"17.249.200.1", ProtoApplePush},
		{"17.249.1.1", ProtoGoogle},
		{"17.249.1.2", ProtoApplePush},
		{"18.0.0.1", 0},
		{"16.255.255.255", 0},
		{"2620:149:1::1", ProtoApple},
		{"2620:149:a44::9", ProtoApplePush},
		{"2620:14a::1", 0},
		{"::ffff:17.249.1.1", ProtoGoogle},
		{"192.0.2.77", ProtoDropbox},
	}
	for _, tc := range tests {
		e, ok := cat.Addr(netip.MustParseAddr(tc.addr))
		if e.App != tc.app || ok != (tc.app != 0) {
			t.Errorf("Addr(%s) = %v %v, want %v", tc.addr, e.App, ok, tc.app)
		}
	}
}

func TestCatalogOperatorOverridesAndCustomProtocols(t *testing.T) {
	b := NewCatalogBuilder(false)
	operator := `# an operator's file
host:"youtube.com"@CorpVideo/Video
host:"intranet.corp"@CorpPortal/Productivity
host:"wiki.intranet.corp"@CorpPortal
ip:10.1.0.0/16@CorpPortal
ip:17.0.0.0/8@Dropbox
host:"blocked.example"@/Banned_Site
tcp:8443@CorpPortal
`
	if err := b.AddRules("/etc/ips/catalog.txt", strings.NewReader(operator)); err != nil {
		t.Fatal(err)
	}
	cat := b.Build()
	video, ok := cat.ProtoByName("corpvideo")
	if !ok || video < customBase {
		t.Fatalf("CorpVideo = %d %v, want a custom id ≥ %d", video, ok, customBase)
	}
	portal, _ := cat.ProtoByName("CorpPortal")
	if portal < customBase || portal == video {
		t.Fatalf("CorpPortal = %d (CorpVideo %d)", portal, video)
	}
	if got := cat.CustomProtocols(); len(got) != 2 || got[0] != "CorpVideo" || got[1] != "CorpPortal" {
		t.Errorf("CustomProtocols = %v", got)
	}
	if cat.ProtoName(video) != "CorpVideo" || cat.ProtoCategory(video) != CategoryVideo || cat.ProtoCategory(portal) != CategoryProductivity {
		t.Errorf("custom names/categories: %q %v %v", cat.ProtoName(video), cat.ProtoCategory(video), cat.ProtoCategory(portal))
	}
	// The operator's rule replaced the embedded one for the same name;
	// longer embedded rules below it still apply.
	if e, _ := cat.Host("www.youtube.com"); e.App != video {
		t.Errorf("youtube.com → %s, want the operator's CorpVideo", cat.ProtoName(e.App))
	}
	if e, _ := cat.Host("i.ytimg.com"); e.App != ProtoYouTube {
		t.Errorf("ytimg.com → %s, want the embedded YouTube", cat.ProtoName(e.App))
	}
	if e, _ := cat.Addr(netip.MustParseAddr("17.5.5.5")); e.App != ProtoDropbox {
		t.Errorf("17.5.5.5 → %s, want the operator's Dropbox", cat.ProtoName(e.App))
	}
	if e, _ := cat.Addr(netip.MustParseAddr("17.249.0.1")); e.App != ProtoApplePush {
		t.Errorf("17.249.0.1 → %s, the embedded /16 is more specific than the operator's /8", cat.ProtoName(e.App))
	}
	if e, _ := cat.Addr(netip.MustParseAddr("10.1.2.3")); e.App != portal {
		t.Errorf("10.1.2.3 → %s", cat.ProtoName(e.App))
	}
	if e, ok := cat.Host("blocked.example"); !ok || e.Category != CategoryBannedSite {
		t.Errorf("blocked.example → %+v", e)
	}
	if e, ok := cat.Port(IPProtoTCP, 8443); !ok || e.App != portal {
		t.Errorf("tcp/8443 → %+v %v", e, ok)
	}
	r := Result{Master: ProtoTLS, App: portal}
	if got := cat.AppName(&r); got != "TLS.CorpPortal" {
		t.Errorf("AppName = %q", got)
	}
}

func TestCatalogRuleErrorsNameFileAndLine(t *testing.T) {
	rules := `# comment
host:"ok.example"@Google

host:"bad host.example"@Google
host:"x.example"@NoSuchCategoryApp/NotACategory
ip:300.1.2.3/8@Google
host:"y.example"
tcp:70000@Google
udp:9-3@Google
dns:"z.example"@Google
host:"a..b"@Google
@Google
host:"quote\"x"@Google
host:"ok2.example"@Google
`
	b := NewCatalogBuilder(true)
	err := b.AddRules("ops/custom.txt", strings.NewReader(rules))
	if err == nil {
		t.Fatal("no error for bad rules")
	}
	msg := err.Error()
	for _, line := range []int{4, 5, 6, 7, 8, 9, 10, 11, 12, 13} {
		if want := fmt.Sprintf("ops/custom.txt:%d: ", line); !strings.Contains(msg, want) {
			t.Errorf("error does not name %q:\n%s", want, msg)
		}
	}
	for _, line := range []int{1, 2, 3, 14} {
		if bad := fmt.Sprintf("ops/custom.txt:%d: ", line); strings.Contains(msg, bad) {
			t.Errorf("error names good line %d:\n%s", line, msg)
		}
	}
	// Good lines around the bad ones still load.
	cat := b.Build()
	for _, h := range []string{"ok.example", "ok2.example"} {
		if e, _ := cat.Host(h); e.App != ProtoGoogle {
			t.Errorf("%s not loaded", h)
		}
	}
}

func TestCatalogAddFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "tor.txt")
	if err := os.WriteFile(p, []byte("ip:198.51.100.7@Tor\nip:nonsense@Tor\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := NewCatalogBuilder(true)
	err := b.AddFile(p)
	if err == nil || !strings.Contains(err.Error(), p+":2: ") {
		t.Errorf("AddFile error %v, want one naming %s:2", err, p)
	}
	if e, _ := b.Build().Addr(netip.MustParseAddr("198.51.100.7")); e.App != ProtoTor {
		t.Errorf("relay not loaded: %+v", e)
	}
	if err := NewCatalogBuilder(true).AddFile(filepath.Join(dir, "missing.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// embeddedRule is one host or address rule of the embedded files.
type embeddedRule struct {
	file string
	line int
	key  string // kind and value, e.g. host:youtube.com
	app  string
	cat  string
}

var ruleKindRe = regexp.MustCompile(`^(host|ip|ipv6|tcp|udp):`)

// embeddedRules reads the embedded files independently of the parser.
func embeddedRules(t *testing.T) []embeddedRule {
	t.Helper()
	ents, err := catalogFS.ReadDir("catalog")
	if err != nil {
		t.Fatal(err)
	}
	var out []embeddedRule
	for _, ent := range ents {
		f, err := catalogFS.Open("catalog/" + ent.Name())
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for n := 1; sc.Scan(); n++ {
			s := strings.TrimSpace(sc.Text())
			if s == "" || s[0] == '#' {
				continue
			}
			at := strings.LastIndexByte(s, '@')
			if at < 0 {
				t.Errorf("%s:%d: no @", ent.Name(), n)
				continue
			}
			app, cat, _ := strings.Cut(s[at+1:], "/")
			for _, r := range splitRules(s[:at]) {
				r = strings.TrimSpace(r)
				if !ruleKindRe.MatchString(r) {
					t.Errorf("%s:%d: rule %q", ent.Name(), n, r)
					continue
				}
				kind, val, _ := strings.Cut(r, ":")
				val = strings.ToLower(strings.Trim(val, `"[]`))
				if kind == "ipv6" {
					kind = "ip"
				}
				if kind == "ip" {
					if p, err := parsePrefix(val); err == nil {
						val = p.String()
					}
				}
				out = append(out, embeddedRule{ent.Name(), n, kind + ":" + val, app, cat})
			}
		}
		f.Close()
	}
	return out
}

func TestEmbeddedCatalogUsesNDPINames(t *testing.T) {
	for _, r := range embeddedRules(t) {
		if r.app != "" {
			id, ok := ProtoByName(r.app)
			if !ok {
				t.Errorf("%s:%d: %q is not an nDPI protocol name", r.file, r.line, r.app)
			} else if id.String() != r.app {
				t.Errorf("%s:%d: %q is spelt %q in nDPI", r.file, r.line, r.app, id.String())
			}
		}
		if r.cat != "" {
			c, ok := CategoryByName(r.cat)
			if !ok {
				t.Errorf("%s:%d: %q is not an nDPI category", r.file, r.line, r.cat)
			} else if c.String() != r.cat {
				t.Errorf("%s:%d: category %q is spelt %q in nDPI", r.file, r.line, r.cat, c.String())
			}
		}
	}
	if got := DefaultCatalog().CustomProtocols(); len(got) != 0 {
		t.Errorf("the embedded catalog defines custom protocols %v", got)
	}
}

// TestEmbeddedCatalogConsistent fails when two embedded rules give the same
// name or prefix different meanings: which one wins would then depend on
// the order the files are read.
func TestEmbeddedCatalogConsistent(t *testing.T) {
	seen := map[string]embeddedRule{}
	for _, r := range embeddedRules(t) {
		if p, ok := seen[r.key]; ok && (p.app != r.app || p.cat != r.cat) {
			t.Errorf("%s: %s:%d says %s/%s, %s:%d says %s/%s", r.key, p.file, p.line, p.app, p.cat, r.file, r.line, r.app, r.cat)
		}
		seen[r.key] = r
	}
}

func TestEmbeddedCatalogCoverage(t *testing.T) {
	apps := map[string]bool{}
	for _, r := range embeddedRules(t) {
		if (r.file == "apps.txt" || r.file == "core.txt") && r.app != "" {
			apps[r.app] = true
		}
	}
	if len(apps) < 150 {
		t.Errorf("apps.txt and core.txt name %d applications, want at least 150", len(apps))
	}
	t.Logf("%d applications in apps.txt and core.txt", len(apps))
	hosts, prefixes := DefaultCatalog().Len()
	t.Logf("embedded catalog: %d host rules, %d address prefixes", hosts, prefixes)
}

// TestEmbeddedCatalogServices spot-checks services per family against the
// names nDPI gives them.
func TestEmbeddedCatalogServices(t *testing.T) {
	cat := DefaultCatalog()
	hosts := map[string]string{
		"www.youtube.com": "YouTube", "rr3---sn-4g5e6nz7.googlevideo.com": "YouTube", "i.ytimg.com": "YouTube",
		"youtubei.googleapis.com": "YouTube", "upload.youtube.com": "YouTubeUpload",
		"www.netflix.com": "NetFlix", "occ-0-1.1.nflxso.net": "NetFlix", "ipv4-c001.1.nflxvideo.net": "NetFlix",
		"www.disneyplus.com": "DisneyPlus", "atv-ps.amazon.com": "AmazonVideo", "www.primevideo.com": "AmazonVideo",
		"www.hulu.com": "Hulu", "video-weaver.fra02.hls.ttvnw.net": "Twitch", "www.dazn.com": "Dazn",
		"player.vimeo.com": "Vimeo", "www.iqiyi.com": "iQIYI", "v16m.tiktokcdn.com": "TikTok", "www.dailymotion.com": "Dailymotion",
		"www.facebook.com": "Facebook", "scontent.xx.fbcdn.net": "FbookReelStory", "www.instagram.com": "Instagram",
		"instagram.c10r.facebook.com": "Instagram", "pbs.twimg.com": "Twitter", "x.com": "Twitter", "www.linkedin.com": "LinkedIn",
		"www.reddit.com": "Reddit", "i.pinimg.com": "Pinterest", "www.pinterest.co.uk": "Pinterest", "www.tumblr.com": "Tumblr",
		"vk.com": "VK", "bsky.app": "Bluesky", "mastodon.social": "Mastodon", "www.threads.net": "Threads",
		"www.google.com": "Google", "www.google.de": "Google", "fonts.gstatic.com": "Google", "android.googleapis.com": "GoogleServices",
		"mail.google.com": "GMail", "drive.google.com": "GoogleDrive", "docs.google.com": "GoogleDocs",
		"android.clients.google.com": "PlayStore", "maps.google.com": "GoogleMaps",
		"www.microsoft.com": "Microsoft", "outlook.office365.com": "Outlook", "www.office.com": "Microsoft365",
		"contoso.sharepoint.com": "MS_OneDrive", "myapp.azurewebsites.net": "Azure", "download.windowsupdate.com": "WindowsUpdate",
		"s3.eu-west-1.amazonaws.com": "AmazonAWS", "www.amazon.co.uk": "Amazon", "www.cloudflare.com": "Cloudflare",
		"www.dropbox.com": "Dropbox", "www.icloud.com": "AppleiCloud", "www.apple.com": "Apple", "apps.apple.com": "AppleStore",
		"api.steampowered.com": "Steam", "www.xboxlive.com": "Xbox", "store.playstation.com": "Playstation",
		"accounts.nintendo.com": "Nintendo", "store.epicgames.com": "EpicGames", "auth.riotgames.com": "RiotGames",
		"www.roblox.com": "Roblox", "accounts.ea.com": "ElectronicArts", "www.deezer.com": "Deezer",
		"api-v2.soundcloud.com": "SoundCloud", "sb.scorecardresearch.com": "ADS_Analytic_Track",
		"app.adjust.com": "ADS_Analytic_Track", "settings.crashlytics.com": "Crashlytics", "apptv.cachefly.net": "Cachefly",
		"en.wikipedia.org": "Wikipedia", "www.wikipedia.it": "Wikipedia", "news.yahoo.com": "Yahoo", "slack.com": "Slack",
		"github.com": "Github", "www.speedtest.net": "Ookla", "ocsp.digicert.com": "OCSP",
		"web.wechat.com": "WeChat", "line.me": "Line", "www.alibaba.com": "Alibaba", "consumer.huawei.com": "Huawei",
	}
	names := make([]string, 0, len(hosts))
	for h := range hosts {
		names = append(names, h)
	}
	sort.Strings(names)
	for _, h := range names {
		e, _ := cat.Host(h)
		if got := cat.ProtoName(e.App); got != hosts[h] {
			t.Errorf("Host(%q) = %s, want %s", h, got, hosts[h])
		}
	}
	overrides := map[string]CategoryID{
		"captive.apple.com": CategoryConnCheck, "connectivitycheck.gstatic.com": CategoryConnCheck,
		"www.msftconnecttest.com": CategoryConnCheck, "detectportal.firefox.com": CategoryConnCheck,
		"mesu.apple.com": CategorySoftwareUpdate, "dl.google.com": CategorySoftwareUpdate,
		"archive.ubuntu.com": CategorySoftwareUpdate, "googleads.g.doubleclick.net": CategoryAdvertisement,
	}
	for h, want := range overrides {
		if e, _ := cat.Host(h); e.Category != want {
			t.Errorf("Host(%q) category %v, want %v", h, e.Category, want)
		}
	}
	addrs := map[string]string{
		"142.250.180.142": "Google", "2a00:1450:4001:803::1017": "Google", "157.240.20.35": "Facebook",
		"2a03:2880:f10c::1": "Facebook", "104.244.42.1": "Twitter", "17.253.1.1": "Apple", "17.249.1.1": "ApplePush",
		"104.16.1.1": "Cloudflare", "52.17.114.219": "AmazonAWS", "137.135.131.52": "Azure", "40.97.1.1": "Outlook",
		"45.57.1.1": "NetFlix", "162.249.72.1": "RiotGames", "185.88.236.110": "Threema", "155.133.230.1": "Steam",
		"140.82.112.3": "Github", "5.62.53.131": "AVAST",
	}
	for a, want := range addrs {
		e, _ := cat.Addr(netip.MustParseAddr(a))
		if got := cat.ProtoName(e.App); got != want {
			t.Errorf("Addr(%s) = %s, want %s", a, got, want)
		}
	}
}

// TestCatalogAgreesWithNDPI reads nDPI's expected results for the
// conformance captures, when they are present, and checks that the catalog
// maps each hostname nDPI reports on a TLS, QUIC, HTTP or DNS flow to the
// application nDPI named (or to none when nDPI named none).
func TestCatalogAgreesWithNDPI(t *testing.T) {
	dir := "../../shared/conformance/ndpi/result"
	files, _ := filepath.Glob(filepath.Join(dir, "*.out"))
	if len(files) == 0 {
		t.Skip("no conformance results")
	}
	cat := DefaultCatalog()
	flowRe := regexp.MustCompile(`\[proto: [\d.]+/([^\]]+)\]`)
	hostRe := regexp.MustCompile(`\[Hostname/SNI: ([^\]]+)\]`)
	confRe := regexp.MustCompile(`\[Confidence: ([^\]]+)\]`)
	// Applications nDPI finds by other means than the name (payload,
	// certificate, heuristics).
	notByName := map[string]bool{"Tor": true, "GoogleCall": true, "SnapchatCall": true, "FacebookVoip": true,
		"ViberVoip": true, "IPP": true, "SOAP": true, "Gnutella": true}
	// Applications whose names the other catalog files hold (realtime.txt,
	// p2p.txt, tls.txt): reported, but not held against this file.
	elsewhere := map[string]bool{"WhatsApp": true, "WhatsAppFiles": true, "Viber": true, "Webex": true, "Zoom": true,
		"Teams": true, "GoogleMeet": true, "Signal": true, "Telegram": true, "Discord": true, "Snapchat": true,
		"Spotify": true, "BitTorrent": true, "Mullvad": true, "OperaVPN": true, "ProtonVPN": true, "NordVPN": true,
		"DoH_DoT": true, "Tor": true}
	type pair struct{ host, want string }
	seen := map[pair]bool{}
	agree, total, mineAgree, mine := 0, 0, 0, 0
	var misses []string
	for _, fn := range files {
		f, err := os.Open(fn)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			m, h, c := flowRe.FindStringSubmatch(line), hostRe.FindStringSubmatch(line), confRe.FindStringSubmatch(line)
			if m == nil || h == nil || c == nil || c[1] != "DPI" {
				continue
			}
			master, app, _ := strings.Cut(m[1], ".")
			switch master {
			case "TLS", "QUIC", "HTTP", "DNS":
			default:
				continue
			}
			host := strings.ToLower(h[1])
			if notByName[app] || host == "localhost" {
				continue
			}
			if _, err := netip.ParseAddr(host); err == nil {
				continue // a numeric Host header names no service
			}
			p := pair{host, app}
			if seen[p] {
				continue
			}
			seen[p] = true
			total++
			e, _ := cat.Host(p.host)
			got := ""
			if e.App != 0 {
				got = cat.ProtoName(e.App)
			}
			ok := got == app
			if ok {
				agree++
			}
			if !elsewhere[app] {
				mine++
				if ok {
					mineAgree++
				}
			}
			if !ok {
				note := ""
				if elsewhere[app] {
					note = " (another part's catalog)"
				}
				misses = append(misses, fmt.Sprintf("%s %s: nDPI %q, catalog %q%s", master, p.host, app, got, note))
			}
		}
		f.Close()
	}
	sort.Strings(misses)
	t.Logf("catalog agrees with nDPI on %d of %d hostnames (%.1f%%); on %d of the %d this file's services own",
		agree, total, 100*float64(agree)/float64(total), mineAgree, mine)
	for _, m := range misses {
		t.Log("miss: " + m)
	}
	if float64(mineAgree) < 0.95*float64(mine) {
		t.Errorf("agreement %d/%d below 95%%", mineAgree, mine)
	}
}

func TestCatalogHostZeroAlloc(t *testing.T) {
	cat := DefaultCatalog()
	names := []string{"rr3---sn-4g5e6nz7.googlevideo.com", "www.google.co.uk", "p53-buy.itunes.apple.com",
		"unknown.example.org", "a.b.c.d.e.f.g.example", "captive.apple.com", "x.ads.doubleclick.net"}
	if n := testing.AllocsPerRun(200, func() {
		for _, h := range names {
			cat.Host(h)
		}
	}); n != 0 {
		t.Fatalf("Host allocates %v times per run", n)
	}
}

func BenchmarkCatalogHost(b *testing.B) {
	cat := DefaultCatalog()
	names := []string{
		"rr3---sn-4g5e6nz7.googlevideo.com", "www.youtube.com", "i.instagram.com", "www.google.co.uk",
		"scontent-fra5-1.xx.fbcdn.net", "p53-buy.itunes.apple.com", "unknown.example.org",
		"a1234.dscb.akamaiedge.net", "ipv4-c001-fra001-ix.1.oca.nflxvideo.net", "outlook.office365.com",
		"sb.scorecardresearch.com", "cdn.jsdelivr.net", "www.wikipedia.org", "api.steampowered.com",
		"d1a2b3c4.cloudfront.net", "www.notasite.example.com",
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cat.Host(names[i%len(names)])
	}
}

func BenchmarkCatalogAddr(b *testing.B) {
	cat := DefaultCatalog()
	addrs := []netip.Addr{netip.MustParseAddr("142.250.180.142"), netip.MustParseAddr("192.0.2.1"),
		netip.MustParseAddr("2a03:2880:f10c::1"), netip.MustParseAddr("52.17.114.219")}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cat.Addr(addrs[i%len(addrs)])
	}
}

// refLookup is the matching rule stated plainly: among the rules that
// match the name, the one whose match starts leftmost wins; at one start,
// exact before suffix before brand before partial label; among brand rules
// at one start, the longest.
func refLookup(rules []refRule, h string) (ProtoID, bool) {
	h = trimHost(h)
	if h == "" {
		return 0, false
	}
	best, bestStart, bestRank, bestLen := ProtoID(0), len(h)+1, 9, -1
	consider := func(start, rank, n int, app ProtoID) {
		if start < bestStart || start == bestStart && (rank < bestRank || rank == bestRank && n > bestLen) {
			best, bestStart, bestRank, bestLen = app, start, rank, n
		}
	}
	for _, r := range rules {
		switch r.kind {
		case hostExact:
			if h == r.key {
				consider(-1, 0, len(r.key), r.app)
			}
		case hostSuffix:
			if h == r.key {
				consider(0, 1, 0, r.app)
			} else if strings.HasSuffix(h, "."+r.key) {
				consider(len(h)-len(r.key), 1, 0, r.app)
			}
		case hostBrand:
			for start := 0; start < len(h); start++ {
				if (start == 0 || h[start-1] == '.') && strings.HasPrefix(h[start:], r.key+".") && len(h[start:]) > len(r.key)+1 {
					consider(start, 2, len(r.key), r.app)
				}
			}
		case hostDash:
			if i := strings.LastIndex(h, r.key); i > 0 && i+len(r.key) == len(h) {
				start := strings.LastIndexByte(h[:i], '.') + 1
				if start < i {
					consider(start, 3, 0, r.app)
				}
			}
		}
	}
	return best, bestStart <= len(h)
}

type refRule struct {
	kind hostKind
	key  string
	app  ProtoID
}

// FuzzCatalogHost checks the host table against refLookup on names built
// from a small alphabet of labels, and that no name makes it panic.
func FuzzCatalogHost(f *testing.F) {
	for _, s := range []string{"www.google.co.uk", "p53-buy.itunes.apple.com", "a.b", "*.x.y.", "..", "-", "a-b.c-d.e", "google", "mail.google.a.b"} {
		f.Add(s)
	}
	ruleText := []string{"google.com", "google.*", "mail.google.*", "=a.b", "b", "*-buy.itunes.apple.com",
		"itunes.apple.com", "apple.com", "c-d.e", "*-d.e", "x.y", "a.*", "=www.google.co.uk"}
	var rules []refRule
	tab := newHostTable()
	for i, s := range ruleText {
		kind, key, ok := hostPattern(s)
		if !ok {
			f.Fatalf("pattern %q", s)
		}
		app := ProtoID(i + 1)
		rules = append(rules, refRule{kind, key, app})
		tab.add(kind, key, CatalogEntry{App: app})
	}
	f.Fuzz(func(t *testing.T, h string) {
		h = strings.ToLower(h)
		e, ok := tab.lookup(h)
		want, wok := refLookup(rules, h)
		if ok != wok || e.App != want {
			t.Fatalf("lookup(%q) = %d %v, reference %d %v", h, e.App, ok, want, wok)
		}
	})
}

// FuzzCatalogRules feeds arbitrary rule files to the parser: errors are
// fine, panics are not, and a catalog built from whatever loaded answers.
func FuzzCatalogRules(f *testing.F) {
	f.Add("host:\"youtube.com\"@YouTube\nip:10.0.0.0/8@Google\ntcp:1-3@X/Web\n")
	f.Add("host:\"*-a.b\",host:\"c.*\"@/Malware\nipv6:[::1]/128@Tor")
	f.Fuzz(func(t *testing.T, rules string) {
		b := NewCatalogBuilder(true)
		_ = b.AddRules("fuzz.txt", strings.NewReader(rules))
		cat := b.Build()
		cat.Host("a.b.c")
		cat.Addr(netip.MustParseAddr("10.1.2.3"))
	})
}

// withNameDissector replaces the dissectors for one test by a stand-in
// for TLS: a payload "SNI:name" is a ClientHello naming name, "NOSNI" one
// without a name; anything else is not this protocol.
func withNameDissector(t *testing.T) {
	saved := dissectors
	dissectors = []dissector{{name: "fake-tls", l4: onTCP | onUDP, fn: func(c *Ctx) Status {
		p := string(c.Payload)
		switch {
		case strings.HasPrefix(p, "SNI:"):
			c.Set(ProtoTLS, 0)
			c.SetHostname(c.Payload[4:])
			return Done
		case strings.HasPrefix(p, "NOSNI"):
			c.Set(ProtoTLS, 0)
			return Done
		}
		return Exclude
	}}}
	t.Cleanup(func() { dissectors = saved })
}

func TestCatalogPrecedenceInTheEngine(t *testing.T) {
	withNameDissector(t)
	cat := testCatalog(t, `
host:"video.example"@YouTube
host:"captive.example"@Apple/ConnCheck
host:"learned.example"@NetFlix
ip:198.51.100.0/24@Google
ip:203.0.113.0/24@Dropbox
`)
	dnsNames := NewDNSCache(64)
	dnsNames.Put(netip.MustParseAddr("198.51.100.20"), "learned.example")
	dnsNames.Put(netip.MustParseAddr("198.51.100.21"), "unknown.example")
	run := func(server string, proto uint8, payload string) Result {
		s := newSim(t, proto, "10.0.0.1:40000", server)
		s.e = NewEngine(Config{Catalog: cat, DNSCache: dnsNames, OnEnd: func(f *Flow, _ EndReason) { s.ended = append(s.ended, f.Result) }})
		if proto == IPProtoTCP {
			s.handshake()
		}
		for i := 0; i < 16; i++ {
			s.send(ToServer, []byte(payload))
		}
		s.e.Flush()
		if len(s.ended) != 1 {
			t.Fatalf("%d flows ended", len(s.ended))
		}
		return s.ended[0]
	}
	tests := []struct {
		name, server, payload string
		proto                 uint8
		want                  string
		conf                  Confidence
		cat                   CategoryID
	}{
		// The requested name wins over the address.
		{"name over address", "198.51.100.9:443", "SNI:www.video.example", IPProtoTCP, "TLS.YouTube", ConfDPI, CategoryMedia},
		{"name over learned name", "198.51.100.20:443", "SNI:www.video.example", IPProtoTCP, "TLS.YouTube", ConfDPI, CategoryMedia},
		// An unknown name leaves the protocol alone: the address does not
		// name the application of a flow DPI classified (as nDPI).
		{"unknown name, known address", "198.51.100.9:443", "SNI:other.example", IPProtoTCP, "TLS", ConfDPI, CategoryWeb},
		{"no name, known address", "203.0.113.5:443", "NOSNI", IPProtoTCP, "TLS", ConfDPI, CategoryWeb},
		// A name DNS taught applies when the flow carries none.
		{"no name, learned name", "198.51.100.20:443", "NOSNI", IPProtoTCP, "TLS.NetFlix", ConfDNSCache, CategoryVideo},
		// Nothing recognised: a learned name first, then the address, but
		// only where no port names the protocol.
		{"guess by learned name", "198.51.100.20:7777", "????", IPProtoTCP, "NetFlix", ConfDNSCache, CategoryVideo},
		{"guess by address", "203.0.113.5:7777", "????", IPProtoTCP, "Dropbox", ConfIP, CategoryCloud},
		{"unknown learned name, address", "198.51.100.21:7777", "????", IPProtoUDP, "Google", ConfIP, CategoryWeb},
		{"port before address", "203.0.113.5:443", "????", IPProtoTCP, "TLS", ConfPort, CategoryWeb},
		{"port and learned name", "198.51.100.20:443", "????", IPProtoTCP, "TLS.NetFlix", ConfDNSCache, CategoryVideo},
		// Category overrides follow the name, except on DNS and mail.
		{"category override", "192.0.2.1:443", "SNI:captive.example", IPProtoTCP, "TLS.Apple", ConfDPI, CategoryConnCheck},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := run(tc.server, tc.proto, tc.payload)
			if got := cat.AppName(&r); got != tc.want || r.Confidence != tc.conf || r.Category != tc.cat {
				t.Errorf("got %s (%v, %v), want %s (%v, %v)", got, r.Confidence, r.Category, tc.want, tc.conf, tc.cat)
			}
		})
	}
}

func TestCatalogCategoryOnDNSFlows(t *testing.T) {
	saved := dissectors
	dissectors = []dissector{{name: "fake-dns", l4: onUDP, fn: func(c *Ctx) Status {
		c.Set(ProtoDNS, 0)
		c.SetHostname(c.Payload)
		return Done
	}}}
	t.Cleanup(func() { dissectors = saved })
	cat := testCatalog(t, `host:"captive.example"@Apple/ConnCheck`)
	s := newSim(t, IPProtoUDP, "10.0.0.1:40000", "192.0.2.53:53")
	var got []Result
	s.e = NewEngine(Config{Catalog: cat, OnEnd: func(f *Flow, _ EndReason) { got = append(got, f.Result) }})
	s.send(ToServer, []byte("captive.example"))
	s.e.Flush()
	if len(got) != 1 || cat.AppName(&got[0]) != "DNS.Apple" || got[0].Category != CategoryNetwork {
		t.Fatalf("got %+v, want DNS.Apple in category Network", got)
	}
}
