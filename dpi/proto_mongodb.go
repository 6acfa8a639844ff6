package dpi

// MongoDB wire protocol (MongoDB docs "Wire Protocol", MsgHeader): a
// little-endian message length, request id, response-to and opcode: reply
// 1, update 2001, insert 2002, query 2004, get-more 2005, delete 2006,
// kill-cursors 2007, compressed 2012, msg 2013. A message may span
// segments, so its length is at least the payload. An OP_QUERY then names
// a "db.collection" and an OP_MSG holds sections of kind 0 or 1.
func dissectMongoDB(c *Ctx) Status {
	b := c.Payload
	if len(b) < 21 {
		return Exclude
	}
	n := int(le32(b, 0))
	if n < len(b) || n > 48<<20 {
		return Exclude
	}
	switch op := le32(b, 12); op {
	case 2004:
		// flags (4), then the NUL-terminated full collection name
		name := b[20:]
		end := 0
		for end < len(name) && name[end] != 0 {
			end++
		}
		if end == len(name) || end < 3 || index(name[:end], ".") < 1 || !printable(name[:end]) {
			return Exclude
		}
	case 2013:
		if k := b[20]; k > 1 {
			return Exclude
		}
	case 1, 2001, 2002, 2005, 2006, 2007, 2012:
		if !hasPort(c, 27017) {
			return Exclude
		}
	default:
		return Exclude
	}
	return lanDone(c, ProtoMongoDB)
}
