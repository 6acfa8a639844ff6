package tls

// Strength rates a cipher suite the way Qualys SSL Labs' grading does and
// nDPI reports it: RC4 is insecure; static-RSA key exchange (no forward
// secrecy), 3DES, SEED and IDEA are weak.
type Strength uint8

const (
	CipherSafe Strength = iota
	CipherWeak
	CipherInsecure
)

// CipherStrength rates a cipher suite id (IANA TLS Cipher Suites registry).
func CipherStrength(id uint16) Strength {
	switch id {
	case 0xc011, // TLS_ECDHE_RSA_WITH_RC4_128_SHA
		0x0005, // TLS_RSA_WITH_RC4_128_SHA
		0x0004: // TLS_RSA_WITH_RC4_128_MD5
		return CipherInsecure
	case 0x009d, // TLS_RSA_WITH_AES_256_GCM_SHA384
		0x003d, // TLS_RSA_WITH_AES_256_CBC_SHA256
		0x0035, // TLS_RSA_WITH_AES_256_CBC_SHA
		0x0084, // TLS_RSA_WITH_CAMELLIA_256_CBC_SHA
		0x009c, // TLS_RSA_WITH_AES_128_GCM_SHA256
		0x003c, // TLS_RSA_WITH_AES_128_CBC_SHA256
		0x002f, // TLS_RSA_WITH_AES_128_CBC_SHA
		0x0041, // TLS_RSA_WITH_CAMELLIA_128_CBC_SHA
		0xc012, // TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA
		0x0016, // TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA
		0x000a, // TLS_RSA_WITH_3DES_EDE_CBC_SHA
		0x0096, // TLS_RSA_WITH_SEED_CBC_SHA
		0x0007: // TLS_RSA_WITH_IDEA_CBC_SHA
		return CipherWeak
	}
	return CipherSafe
}
