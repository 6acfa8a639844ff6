package main

import (
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"ips/dpi"
	"ips/verdict"
)

// flowRecord is one flow as replay prints it and as the daemon reports it:
// nfstream-style names, so existing tooling reads it.
type flowRecord struct {
	SrcIP               string   `json:"src_ip"`
	SrcPort             uint16   `json:"src_port"`
	DstIP               string   `json:"dst_ip"`
	DstPort             uint16   `json:"dst_port"`
	Protocol            uint8    `json:"protocol"`
	IPVersion           uint8    `json:"ip_version"`
	VLANID              uint16   `json:"vlan_id"`
	Src2DstPackets      uint32   `json:"src2dst_packets"`
	Src2DstBytes        uint64   `json:"src2dst_bytes"`
	Dst2SrcPackets      uint32   `json:"dst2src_packets"`
	Dst2SrcBytes        uint64   `json:"dst2src_bytes"`
	FirstSeenMS         int64    `json:"first_seen_ms"`
	LastSeenMS          int64    `json:"last_seen_ms"`
	MasterProtocol      string   `json:"master_protocol"`
	AppProtocol         string   `json:"app_protocol"`
	ApplicationName     string   `json:"application_name"`
	CategoryName        string   `json:"category_name"`
	RequestedServerName string   `json:"requested_server_name"`
	JA4                 string   `json:"ja4"`
	JA3                 string   `json:"ja3"`
	UserAgent           string   `json:"user_agent"`
	Risks               []string `json:"risks"`
	RiskScore           int      `json:"risk_score"`
	DPIState            string   `json:"dpi_state"`
	DPIPackets          uint16   `json:"dpi_packets"`
	Guessed             bool     `json:"guessed"`
	Confidence          string   `json:"confidence"`
	End                 string   `json:"end_reason,omitempty"`

	ALPN          string   `json:"alpn,omitempty"`
	TLSVersion    string   `json:"tls_version,omitempty"`
	Cipher        string   `json:"cipher,omitempty"`
	JA3S          string   `json:"ja3s,omitempty"`
	CertIssuer    string   `json:"cert_issuer,omitempty"`
	CertSubject   string   `json:"cert_subject,omitempty"`
	CertNotBefore string   `json:"cert_not_before,omitempty"`
	CertNotAfter  string   `json:"cert_not_after,omitempty"`
	CertSHA1      string   `json:"cert_sha1,omitempty"`
	HTTPMethod    string   `json:"http_method,omitempty"`
	HTTPURL       string   `json:"http_url,omitempty"`
	ContentType   string   `json:"content_type,omitempty"`
	HTTPStatus    uint16   `json:"http_status,omitempty"`
	HTTPServer    string   `json:"http_server,omitempty"`
	DNSQueryType  uint16   `json:"dns_query_type,omitempty"`
	DNSRCode      *uint8   `json:"dns_rcode,omitempty"`
	DNSAnswers    []string `json:"dns_answers,omitempty"`
	SSHClient     string   `json:"ssh_client,omitempty"`
	SSHServer     string   `json:"ssh_server,omitempty"`
	DHCPFP        string   `json:"dhcp_fingerprint,omitempty"`
	DHCPClass     string   `json:"dhcp_class,omitempty"`
	BTInfoHash    string   `json:"bt_info_hash,omitempty"`

	// With a policy.
	Verdict string `json:"verdict,omitempty"`
	// Enforced is false for a monitored decision (Verdict is what would
	// have been done; the flow passed). Absent without a decision.
	Enforced *bool  `json:"enforced,omitempty"`
	PolicyID *int32 `json:"policy_id,omitempty"`
	Pool     string `json:"pool,omitempty"`
	Shaper   string `json:"shaper,omitempty"`
	Explain  string `json:"explain,omitempty"`
}

func newRecord(f *dpi.Flow, cat *dpi.Catalog) flowRecord {
	r := &f.Result
	c, s := f.Client(), f.Server()
	rec := flowRecord{
		SrcIP: c.Addr().String(), SrcPort: c.Port(),
		DstIP: s.Addr().String(), DstPort: s.Port(),
		Protocol: f.Proto(), IPVersion: f.IPVersion(), VLANID: f.VLAN(),
		Src2DstPackets: f.Packets[dpi.ToServer], Src2DstBytes: f.Bytes[dpi.ToServer],
		Dst2SrcPackets: f.Packets[dpi.ToClient], Dst2SrcBytes: f.Bytes[dpi.ToClient],
		FirstSeenMS: f.FirstSeen / 1e6, LastSeenMS: f.LastSeen / 1e6,
		MasterProtocol:      cat.ProtoName(r.Master),
		AppProtocol:         cat.ProtoName(r.App),
		ApplicationName:     cat.AppName(r),
		CategoryName:        r.Category.String(),
		RequestedServerName: r.Hostname,
		JA4:                 r.JA4, JA3: r.JA3, UserAgent: r.UserAgent,
		Risks:      r.Risks.AppendNames(make([]string, 0, 4)),
		RiskScore:  r.Risks.Score(),
		DPIState:   r.State.String(),
		DPIPackets: r.DPIPackets,
		Guessed:    r.Guessed,
		Confidence: r.Confidence.String(),
		ALPN:       r.ALPN,
	}
	if r.TLSVersion != 0 {
		rec.TLSVersion = tlsVersionName(r.TLSVersion)
	}
	if r.Cipher != 0 {
		rec.Cipher = fmt.Sprintf("0x%04x", r.Cipher)
	}
	if m := r.Meta; m != nil {
		rec.JA3S = m.JA3S
		if m.HasCert {
			rec.CertIssuer, rec.CertSubject = m.CertIssuer, m.CertSubject
			rec.CertNotBefore = time.Unix(m.CertNotBefore, 0).UTC().Format(time.RFC3339)
			rec.CertNotAfter = time.Unix(m.CertNotAfter, 0).UTC().Format(time.RFC3339)
			rec.CertSHA1 = strings.ToUpper(hex.EncodeToString(m.CertSHA1[:]))
		}
		rec.HTTPMethod, rec.HTTPURL, rec.ContentType, rec.HTTPStatus, rec.HTTPServer = m.Method, m.URL, m.ContentType, m.Status, m.Server
		if m.QueryType != 0 || m.HasReply {
			rec.DNSQueryType = m.QueryType
			if m.HasReply {
				rc := m.RCode
				rec.DNSRCode = &rc
			}
			for _, a := range m.Answers[:m.NumAnswers] {
				rec.DNSAnswers = append(rec.DNSAnswers, a.String())
			}
		}
		rec.SSHClient, rec.SSHServer = m.ClientBanner, m.ServerBanner
		rec.DHCPFP, rec.DHCPClass = m.DHCPFingerprint, m.DHCPClass
		if m.HasInfoHash {
			rec.BTInfoHash = hex.EncodeToString(m.InfoHash[:])
		}
	}
	return rec
}

// setDecision adds the policy's decision: the action, the policy that
// decided (-1 for none), the LAN host's pool and the explanation.
func (r *flowRecord) setDecision(d verdict.Decision) {
	r.Verdict = d.Action.String()
	r.Enforced = enforcedField(d)
	id := d.PolicyID
	r.PolicyID = &id
	r.Pool = d.Pool
	r.Explain = d.Explain()
}

// enforcedField is a record's "enforced": false for a monitored decision.
func enforcedField(d verdict.Decision) *bool {
	e := !d.Monitor
	return &e
}

func tlsVersionName(v uint16) string {
	switch v {
	case 0x0300:
		return "SSLv3"
	case 0x0301:
		return "TLSv1"
	case 0x0302:
		return "TLSv1.1"
	case 0x0303:
		return "TLSv1.2"
	case 0x0304:
		return "TLSv1.3"
	case 0x0002:
		return "SSLv2"
	}
	return fmt.Sprintf("0x%04x", v)
}
