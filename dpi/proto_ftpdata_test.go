package dpi

import "testing"

// RFC 959 §4.1.2 PASV / §4.2 reply 227, RFC 2428 §3 EPSV / reply 229, and
// PORT: the data connection that follows is FTP_DATA from its first
// packet, on whatever port was announced.
func TestFTPDataAnnounced(t *testing.T) {
	for _, tc := range []struct {
		name       string
		cmd, reply string
		dataCli    string
		dataSrv    string
	}{
		{"PASV", "PASV\r\n", "227 Entering Passive Mode (192,0,2,21,195,80).\r\n", "10.0.0.2:41000", "192.0.2.21:50000"},
		{"EPSV", "EPSV\r\n", "229 Entering Extended Passive Mode (|||50001|)\r\n", "10.0.0.2:41001", "192.0.2.21:50001"},
		{"PORT", "PORT 10,0,0,2,195,82\r\n", "200 PORT command successful\r\n", "192.0.2.21:20", "10.0.0.2:50002"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSim(t, IPProtoTCP, "10.0.0.2:40000", "192.0.2.21:21")
			s.handshake()
			s.send(ToClient, []byte("220 FTP ready\r\n"))
			s.send(ToServer, []byte("USER anonymous\r\n"))
			s.send(ToClient, []byte("230 Logged in\r\n"))
			s.send(ToServer, []byte(tc.cmd))
			s.send(ToClient, []byte(tc.reply))

			d := newSim(t, IPProtoTCP, tc.dataCli, tc.dataSrv)
			d.e = s.e
			d.handshake()
			f := d.send(ToServer, []byte("-rw-r--r-- 1 ftp ftp 1024 Jan 01 00:00 file.txt\r\n"))
			if got := f.Result.AppName(); got != "FTP_DATA" || f.Result.Confidence != ConfDPI {
				t.Fatalf("data connection %q (%s), want FTP_DATA by DPI", got, f.Result.Confidence)
			}
			// The announcement is used once.
			d2 := newSim(t, IPProtoTCP, "10.0.0.2:42000", tc.dataSrv)
			d2.e = s.e
			d2.handshake()
			if f := d2.send(ToServer, []byte("hello")); f.Result.AppName() == "FTP_DATA" {
				t.Error("a second connection to the announced port was also named FTP_DATA")
			}
		})
	}
}

func TestFTPHostPort(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		ok   bool
	}{
		{"192,0,2,21,195,80)", "192.0.2.21:50000", true},
		{" 10,0,0,2,4,1\r\n", "10.0.0.2:1025", true},
		{"10,0,0,2,4", "", false},
		{"10,0,0,256,4,1", "", false},
		{"a,b,c,d,e,f", "", false},
	} {
		a, p, ok := ftpHostPort([]byte(tc.in))
		if ok != tc.ok || (ok && a.String()+":"+itoa(int(p)) != tc.want) {
			t.Errorf("ftpHostPort(%q) = %v %d %v, want %s %v", tc.in, a, p, ok, tc.want, tc.ok)
		}
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
