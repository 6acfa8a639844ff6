package dpi

// lanTLS hands a flow that carries TLS to the TLS dissector and names it
// after the protocol underneath, as nDPI does: SMTP after STARTTLS becomes
// SMTPS (SMTPS.Google when the server name is known), IMAP and POP3 become
// IMAPS and POPS, FTP after AUTH TLS becomes FTPS, TLS on 993/995/465 is
// IMAPS/POPS/SMTPS and RDP's enhanced security is TLS.RDP. master replaces
// TLS as the master protocol; a non-zero app is forced as the
// application. The TLS dissector keeps its own state in the scratch, so
// the flow can be handed to it packet after packet.
func lanTLS(c *Ctx, master, app ProtoID) Status {
	st := dissectTLS(c)
	r := &c.Flow.Result
	if r.Master == ProtoTLS || r.Master == 0 || r.Master != master {
		r.Master = master
	}
	if app != 0 {
		r.App = app
	}
	if r.Confidence == ConfUnknown {
		r.Confidence = ConfDPI
	}
	switch st {
	case Exclude:
		// Not a handshake the TLS dissector could use: the protocol is
		// known all the same.
		return Done
	case Continue:
		// The TLS dissector waits for more of the handshake; the flow is
		// named already, so this dissector keeps it.
		return More
	}
	return st
}

// tlsRecord reports whether b starts like a TLS handshake record (content
// type 22, version 3.x).
func tlsRecord(b []byte) bool {
	return len(b) >= 6 && b[0] == 0x16 && b[1] == 3 && b[2] <= 4
}

// dissectTLSPorts names TLS on the mail protocols' implicit-TLS ports.
func dissectTLSPorts(c *Ctx) Status {
	var p ProtoID
	switch {
	case hasPort(c, 993):
		p = ProtoIMAPS
	case hasPort(c, 995):
		p = ProtoPOPS
	case hasPort(c, 465):
		p = ProtoSMTPS
	default:
		return Exclude
	}
	st := &c.s.lan.tlsPort
	b := c.Payload
	switch *st {
	case 0:
		if tlsRecord(b) {
			*st = 1
			lanSet(c, p, 0)
			return lanTLS(c, p, 0)
		}
		// Picked up mid-session: records of application data (or alerts,
		// change cipher spec) in both directions, as nDPI accepts.
		if !tlsAnyRecord(b) {
			return Exclude
		}
		*st = 2 + uint8(c.Dir)
		return Continue
	case 2, 3:
		if Dir(*st-2) == c.Dir {
			return Continue
		}
		if !tlsAnyRecord(b) {
			return Exclude
		}
		return lanDone(c, p)
	}
	return lanTLS(c, p, 0)
}

// tlsAnyRecord reports whether b starts like a TLS record of any content
// type (change cipher spec 20, alert 21, handshake 22, application data
// 23) with a plausible length.
func tlsAnyRecord(b []byte) bool {
	return len(b) >= 5 && b[0] >= 20 && b[0] <= 23 && b[1] == 3 && b[2] <= 4 && be16(b, 3) <= 16384+2048
}
