package dpi

import (
	"ips/dpi/httpmsg"

	"ips/internal/ascii"
	"ips/internal/netmatch"
)

// httpState is the HTTP dissector's per-flow state: which side sent the
// request, and how far each head has been read.
type httpState struct {
	reqDir Dir
	flags  httpFlags
	// Facts of the request that judge the response.
	wpProbe       bool // POST /wp-admin/… or GET /wp-content/uploads/…
	binariesOK    bool // a host that hands out programs by design
	javaUserAgent bool
}

type httpFlags uint8

const (
	httpReqStarted  httpFlags = 1 << iota // a request began in reqDir
	httpReqDone                           // its head was read (or as much as will be)
	httpRespStarted                       // a response began in the other direction
	httpRespDone
	httpClassified
)

// Bounds on what is kept of a message as strings (interned per engine).
const (
	maxURL       = 1024
	maxUserAgent = 512
	maxField     = 256
)

// dissectHTTP recognises HTTP/1.x on any port: a request line, or a status
// line when the request was missed. It classifies at the request (the
// master is HTTP, HTTP_Connect for CONNECT, HTTP_Proxy for absolute-form
// targets; the Host names the application through the catalog) and keeps
// reading until the response head has been seen, for its status, server,
// content type and the risks they show.
func dissectHTTP(c *Ctx) Status {
	s := &c.s.http
	b := c.Stream()
	switch {
	case s.flags&(httpReqStarted|httpRespStarted) == 0:
		if known, partial := httpmsg.MethodPrefix(b); known || partial {
			s.flags |= httpReqStarted
			s.reqDir = c.Dir
			return httpRequest(c, s)
		}
		if yes, partial := httpmsg.ResponsePrefix(b); yes || partial {
			s.flags |= httpRespStarted
			s.reqDir = 1 - c.Dir
			return httpResponse(c, s)
		}
		return Exclude
	case c.Dir == s.reqDir:
		if s.flags&httpReqDone != 0 {
			return httpStatus(c, s) // a body or a pipelined request: nothing more to learn
		}
		if s.flags&httpReqStarted == 0 {
			// The response came first; this should be the request.
			if known, _ := httpmsg.MethodPrefix(b); !known {
				return httpStatus(c, s)
			}
			s.flags |= httpReqStarted
		}
		return httpRequest(c, s)
	default:
		if s.flags&httpRespDone != 0 {
			return httpStatus(c, s)
		}
		if s.flags&httpReqStarted != 0 {
			// The server answers: the request head is what it is.
			s.flags |= httpReqDone
		}
		if s.flags&httpRespStarted == 0 {
			if yes, partial := httpmsg.ResponsePrefix(b); !yes && !partial {
				// The server answers something other than HTTP: there
				// is nothing more to wait for.
				if s.flags&httpClassified == 0 {
					return Exclude
				}
				return Done
			}
			s.flags |= httpRespStarted
		}
		return httpResponse(c, s)
	}
}

// httpStatus is the answer once neither head is pending.
func httpStatus(c *Ctx, s *httpState) Status {
	switch {
	case s.flags&httpClassified == 0:
		return Continue
	case s.flags&(httpReqDone|httpRespDone) == httpReqDone|httpRespDone:
		return Done
	case s.flags&httpReqDone != 0:
		c.Pending(FieldRisks | FieldMeta)
	default:
		c.Pending(FieldApp | FieldHostname | FieldRisks | FieldMeta)
	}
	return More
}

// httpRequest reads the request head from this direction's stream. The
// fields read so far are recorded at every segment, since a head may
// never be completed (the rest lost, or the server answering early).
func httpRequest(c *Ctx, s *httpState) Status {
	var h httpmsg.Head
	b := c.Stream()
	st := httpmsg.ParseRequest(b, &h)
	if known, partial := httpmsg.MethodPrefix(b); !known && !partial {
		st = httpmsg.Invalid
	}
	more := st == httpmsg.NeedMore && !c.StreamFull()
	switch {
	case st == httpmsg.Invalid || !h.LineComplete && !more:
		if s.flags&httpClassified == 0 {
			return Exclude
		}
		s.flags |= httpReqDone
		return httpStatus(c, s)
	case !h.LineComplete:
		if !c.Buffer() {
			return Exclude
		}
		c.Incomplete()
		return httpStatus(c, s)
	}
	httpClassify(c, s, &h)
	httpRequestFacts(c, s, &h, !more)
	if more && c.Buffer() {
		c.Incomplete()
		return httpStatus(c, s) // more fields may follow
	}
	if st == httpmsg.Complete {
		httpPipelined(c, b[h.Len:])
	}
	s.flags |= httpReqDone
	c.Unbuffer()
	return httpStatus(c, s)
}

// httpPipelined looks at requests pipelined behind the first in the bytes
// already read: a server answers each for its own host, so a second
// request to another host on the same connection is flagged (the flow is
// named by the first).
func httpPipelined(c *Ctx, rest []byte) {
	for i := 0; i < 4 && len(rest) > 0; i++ {
		if known, _ := httpmsg.MethodPrefix(rest); !known {
			return
		}
		var h httpmsg.Head
		st := httpmsg.ParseRequest(rest, &h)
		if !h.LineComplete {
			return
		}
		host, _ := requestHost(&h, string(h.Method) == "CONNECT", true)
		if host != nil && !sameHost(host, []byte(c.Flow.Result.Hostname)) {
			c.AddRisk(RiskHTTPSuspiciousHeader)
			return
		}
		if st != httpmsg.Complete {
			return
		}
		rest = rest[h.Len:]
	}
}

// httpClassify sets the master protocol from the request line.
func httpClassify(c *Ctx, s *httpState, h *httpmsg.Head) {
	if s.flags&httpClassified != 0 && c.Flow.Result.Master != ProtoHTTP {
		return
	}
	master := ProtoHTTP
	switch {
	case string(h.Method) == "CONNECT":
		master = ProtoHTTPConnect
	case httpmsg.Authority(h.Target) != nil:
		master = ProtoHTTPProxy
	}
	c.Set(master, 0)
	s.flags |= httpClassified
}

// httpRequestFacts records a request head's metadata, names the
// application and flags the risks it shows.
func httpRequestFacts(c *Ctx, s *httpState, h *httpmsg.Head, complete bool) {
	r := &c.Flow.Result
	m := c.Meta()
	m.Method = c.Intern(h.Method)
	m.URL = c.Intern(h.Target[:min(len(h.Target), maxURL)])
	// Errors on WordPress admin posts and upload fetches are how scanners
	// probe for vulnerable plugins.
	s.wpProbe = string(h.Method) == "POST" && ascii.HasPrefix(h.Target, "/wp-admin/") ||
		string(h.Method) == "GET" && ascii.HasPrefix(h.Target, "/wp-content/uploads/")
	s.javaUserAgent = ascii.HasPrefix(h.UserAgent, "java/")
	if len(h.ContentType) > 0 && m.ContentType == "" {
		m.ContentType = c.Intern(h.ContentType[:min(len(h.ContentType), maxField)])
	}

	host, odd := requestHost(h, r.Master == ProtoHTTPConnect, complete)
	if odd {
		c.AddRisk(RiskHTTPSuspiciousHeader)
	}
	name := httpmsg.HostName(host)
	// Windows Update hands out programs by design.
	s.binariesOK = httpHostSuffix(name, ".windowsupdate.com")
	if len(name) > 0 && r.Hostname == "" {
		c.SetHostname(host)
		if looksDGA(r.Hostname) {
			c.AddRisk(RiskSuspiciousDGADomain)
		}
	}
	if len(host) > 0 && !httpmsg.ValidHost(host) {
		c.AddRisk(RiskInvalidCharacters)
		c.AddRisk(RiskPossibleExploit) // a host that is not one is an attack on the server
	}
	if a, ok := httpmsg.NumericIPv4(name); ok {
		c.AddRisk(RiskNumericIPHost)
		// A plain request names the server it is sent to; another address
		// in Host is a forged header (proxies legitimately differ).
		if r.Master == ProtoHTTP && c.Pkt.Dst.Is4() && a != c.Pkt.Dst.Unmap() {
			c.AddRisk(RiskHTTPSuspiciousHeader)
		}
	}

	// The user agent.
	r.Risks &^= 1 << RiskHTTPSuspiciousUserAgent // a response seen first assumed none
	if len(h.UserAgent) == 0 {
		c.AddRisk(RiskHTTPSuspiciousUserAgent)
	} else {
		r.UserAgent = c.Intern(h.UserAgent[:min(len(h.UserAgent), maxUserAgent)])
		f := httpmsg.CheckUserAgent(h.UserAgent)
		if f&httpmsg.UASuspicious != 0 {
			c.AddRisk(RiskHTTPSuspiciousUserAgent)
		}
		if f&httpmsg.UACrawler != 0 {
			c.AddRisk(RiskHTTPCrawlerBot)
		}
		if f&httpmsg.UAExploit != 0 {
			c.AddRisk(RiskPossibleExploit)
		}
	}

	// Attacks in the target.
	if r.Master != ProtoHTTPConnect {
		t := httpmsg.CheckTarget(h.Target)
		if t&httpmsg.ThreatXSS != 0 {
			c.AddRisk(RiskURLPossibleXSS)
		}
		if t&httpmsg.ThreatSQLi != 0 {
			c.AddRisk(RiskURLPossibleSQLInjection)
		}
		if t&httpmsg.ThreatRCE != 0 {
			c.AddRisk(RiskURLPossibleRCEInjection)
		}
		if t&httpmsg.ThreatTraversal != 0 {
			c.AddRisk(RiskHTTPSuspiciousURL)
		}
		if t&httpmsg.ThreatDotFile != 0 {
			c.AddRisk(RiskPossibleExploit)
		}
	}
	if len(h.Authorization) > 0 && httpmsg.CredentialScheme(h.Authorization) {
		c.AddRisk(RiskClearTextCredentials)
	}

	// Fields: suspicious names, and those that name an application.
	gnutella := false
	for f := h.Fields; len(f) > 0; {
		var fname []byte
		fname, _, f = httpmsg.NextField(f)
		if fname == nil {
			continue
		}
		if httpmsg.SuspiciousField(fname) {
			c.AddRisk(RiskHTTPSuspiciousHeader)
		}
		if ascii.HasPrefix(fname, "x-gnutella-") {
			gnutella = true
		}
	}
	if app := httpRequestApp(c, h, gnutella); app != 0 {
		c.SetApp(app)
	}
}

// requestHost is the host a server takes a request head to be for, as
// Go's net/http and nginx read it: the authority of an absolute-form or
// CONNECT target before any Host field (RFC 9112 §3.2.2, §3.2.3); else the
// first Host field, its value unfolded from a continuation line if need
// be; else, once the head is complete (a proper Host may follow), a
// "Host :" field, which only lenient servers read. odd reports the
// spellings that serve to hide a name: Host fields or a target that
// disagree, a folded or misspelt Host.
func requestHost(h *httpmsg.Head, connect, complete bool) (host []byte, odd bool) {
	host = h.Host
	odd = h.HostFolded || h.LooseHost != nil
	if h.Hosts > 1 {
		odd = true // a strict server refuses the request; a lax one reads the first
	}
	if host == nil && complete {
		host = h.LooseHost
	}
	var target []byte
	if connect {
		target = h.Target
	} else {
		target = httpmsg.TargetHost(h.Target)
	}
	if target != nil {
		if host != nil && !sameHost(host, target) {
			odd = true
		}
		host = target
	}
	return host, odd
}

// sameHost compares two host values in canonical form.
func sameHost(a, b []byte) bool {
	var x, y [netmatch.MaxHostLen]byte
	return string(netmatch.AppendCanonicalHost(x[:0], a)) == string(netmatch.AppendCanonicalHost(y[:0], b))
}

// httpRequestApp recognises applications that speak HTTP by what their
// requests carry rather than by host name.
func httpRequestApp(c *Ctx, h *httpmsg.Head, gnutella bool) ProtoID {
	target, ua, ct := h.Target, h.UserAgent, httpmsg.MediaType(h.ContentType)
	switch {
	// BitTorrent tracker announce and scrape (BEP 3, BEP 48).
	case (ascii.HasPrefix(target, "/announce") || ascii.HasPrefix(target, "/scrape")) &&
		ascii.Contains(target, "info_hash="):
		if ih, ok := httpmsg.InfoHash(target); ok {
			m := c.Meta()
			m.InfoHash, m.HasInfoHash = ih, true
		}
		btRemember(c)
		return ProtoBitTorrent
	// Gnutella file transfer (HUGE URNs, the /gnutella/ namespace, the
	// X-Gnutella-* fields) and its well-known clients.
	case gnutella || gnutellaHTTPRequest(target, ua) ||
		ascii.Contains(ua, "gnutella") || ascii.HasPrefix(ua, "shareaza") || ascii.HasPrefix(ua, "limewire"):
		return ProtoGnutella
	// IPP is HTTP POSTs of application/ipp (RFC 8010 §3.1).
	case ascii.Equal(ct, "application/ipp"):
		return ProtoIPP
	// SOAP 1.1 requests carry SOAPAction; SOAP 1.2 its own media type.
	case h.SOAPAction || ascii.Equal(ct, "application/soap+xml"):
		return ProtoSOAP
	case ascii.Equal(ct, "application/ocsp-request"):
		return ProtoOCSP
	// Ookla speed tests fetch and post fixed test paths.
	case ascii.HasPrefix(target, "/downloading?n=0.") || ascii.HasPrefix(target, "/upload?n=0.") ||
		ascii.Contains(h.Referer, "www.speedtest.net"):
		return ProtoOokla
	// The Windows Update agent and Delivery Optimization identify
	// themselves whatever CDN host serves them.
	case ascii.HasPrefix(ua, "windows-update-agent") || ascii.HasPrefix(ua, "microsoft-delivery-optimization/"):
		return ProtoWindowsUpdate
	}
	return 0
}

// httpResponse reads the response head from this direction's stream.
func httpResponse(c *Ctx, s *httpState) Status {
	var h httpmsg.Head
	b := c.Stream()
	st := httpmsg.ParseResponse(b, &h)
	if st == httpmsg.Invalid {
		if s.flags&httpClassified == 0 {
			return Exclude
		}
		s.flags |= httpRespDone
		return httpStatus(c, s)
	}
	if st == httpmsg.NeedMore && !c.StreamFull() && c.Buffer() {
		if h.LineComplete && s.flags&httpClassified == 0 {
			c.Set(ProtoHTTP, 0) // a response without its request: HTTP all the same
			s.flags |= httpClassified
			c.AddRisk(RiskHTTPSuspiciousUserAgent) // no request, no user agent (yet)
		}
		return httpStatus(c, s)
	}
	if !h.LineComplete {
		if s.flags&httpClassified == 0 {
			return Exclude
		}
		s.flags |= httpRespDone
		return httpStatus(c, s)
	}
	if s.flags&httpClassified == 0 {
		c.Set(ProtoHTTP, 0)
		s.flags |= httpClassified
		c.AddRisk(RiskHTTPSuspiciousUserAgent)
	}
	var body []byte
	if st == httpmsg.Complete {
		body = b[h.Len:]
	}
	httpResponseFacts(c, s, &h, body)
	s.flags |= httpRespDone
	c.Unbuffer()
	return httpStatus(c, s)
}

// httpResponseFacts records a response head's metadata and risks.
func httpResponseFacts(c *Ctx, s *httpState, h *httpmsg.Head, body []byte) {
	m := c.Meta()
	m.Status = uint16(h.StatusCode)
	if len(h.Server) > 0 {
		m.Server = c.Intern(h.Server[:min(len(h.Server), maxField)])
		if httpmsg.ObsoleteServer(h.Server) {
			c.AddRisk(RiskHTTPObsoleteServer)
		}
		for _, ch := range h.Server {
			if ch < 0x20 || ch >= 0x7f {
				c.AddRisk(RiskHTTPSuspiciousHeader)
				break
			}
		}
	}
	if len(h.ContentType) > 0 {
		m.ContentType = c.Intern(h.ContentType[:min(len(h.ContentType), maxField)])
	}
	if h.StatusCode >= 400 {
		c.AddRisk(RiskErrorCodeDetected)
		if s.wpProbe {
			c.AddRisk(RiskPossibleExploit)
		}
	}

	// What is being transferred.
	binaryApp := false
	switch httpmsg.Kind(h.ContentType) {
	case httpmsg.ContentExecutable:
		binaryApp = true
		c.SetCategory(CategoryDownload)
	case httpmsg.ContentBinary:
		c.AddRisk(RiskBinaryDataTransfer)
		c.SetCategory(CategoryDownload)
	case httpmsg.ContentArchive:
		c.SetCategory(CategoryDownload)
	case httpmsg.ContentMedia:
		c.SetCategory(CategoryMedia)
	case httpmsg.ContentText:
		if httpmsg.TextLooksBinary(body) {
			c.AddRisk(RiskHTTPSuspiciousContent)
		}
	}
	if name := httpmsg.Filename(h.ContentDisposition); len(name) > 0 {
		if httpmsg.ExecutableName(name) {
			binaryApp = true
			c.SetCategory(CategoryDownload)
		} else {
			c.AddRisk(RiskBinaryDataTransfer) // a file download
		}
	}
	if httpmsg.ExecutableMagic(body) {
		binaryApp = true
	}
	if binaryApp && !s.binariesOK {
		c.AddRisk(RiskBinaryAppTransfer)
		// Java fetching Java classes is how Log4Shell exploitation
		// proceeds after the JNDI lookup.
		if s.javaUserAgent && ascii.Equal(httpmsg.MediaType(h.ContentType), "application/java-vm") {
			c.AddRisk(RiskPossibleExploit)
		}
	}
}

// httpHostSuffix reports whether b ends with the lower-case suffix,
// ignoring case.
func httpHostSuffix(b []byte, lower string) bool {
	return len(b) >= len(lower) && ascii.Equal(b[len(b)-len(lower):], lower)
}
