package dpi

// Real Time Streaming Protocol (RFC 2326 §6, RFC 7826 §8): HTTP-like
// requests whose request line ends with RTSP/1.0 or RTSP/2.0, and
// responses that start with that version. The User-Agent header is kept.
func dissectRTSP(c *Ctx) Status {
	b := c.Payload
	if len(b) < 12 {
		return Exclude
	}
	l := line(b)
	if !hasPrefix(b, "RTSP/1.0 ") && !hasPrefix(b, "RTSP/2.0 ") &&
		!(len(l) > 9 && (string(l[len(l)-9:]) == " RTSP/1.0" || string(l[len(l)-9:]) == " RTSP/2.0")) {
		return Exclude
	}
	lanSet(c, ProtoRTSP, 0)
	if v := headerValue(b, "user-agent"); len(v) > 0 {
		c.Flow.Result.UserAgent = c.Intern(v)
	}
	return Done
}
