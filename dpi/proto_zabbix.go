package dpi

// Zabbix agent and sender protocol (Zabbix manual "Header and data
// length"): "ZBXD", a flags byte (1, plus compression 2 and large 4), then
// the data length.
func dissectZabbix(c *Ctx) Status {
	b := c.Payload
	if len(b) < 13 || !hasPrefix(b, "ZBXD") || b[4]&1 == 0 || b[4] > 7 {
		return Exclude
	}
	return lanDone(c, ProtoZabbix)
}
