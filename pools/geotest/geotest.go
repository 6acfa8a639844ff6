// Package geotest builds small .mmdb databases for tests, so no test
// depends on a download: GeoIP2-style ones (LocationDB, ASNDB, Sample),
// and any of the layouts operators have (Layout, Build, World).
package geotest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// Location is one network of a City/Country database.
type Location struct {
	Network   string // CIDR
	Country   string // ISO code, "" for none
	Continent string // GeoIP2 code ("EU"), "" for none
	// Registered is the registered country, used when Country is empty.
	Registered string
}

// ASN is one network of an ASN database.
type ASN struct {
	Network string
	Number  uint32
	Org     string
}

// LocationDB returns the bytes of a "GeoLite2-Country" database.
func LocationDB(locs []Location) ([]byte, error) {
	t, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoLite2-Country", IncludeReservedNetworks: true, RecordSize: 24})
	if err != nil {
		return nil, err
	}
	for _, l := range locs {
		_, n, err := net.ParseCIDR(l.Network)
		if err != nil {
			return nil, err
		}
		rec := mmdbtype.Map{}
		if l.Country != "" {
			rec["country"] = mmdbtype.Map{"iso_code": mmdbtype.String(l.Country),
				"names": mmdbtype.Map{"en": mmdbtype.String("Country " + l.Country)}}
		}
		if l.Registered != "" {
			rec["registered_country"] = mmdbtype.Map{"iso_code": mmdbtype.String(l.Registered)}
		}
		if l.Continent != "" {
			rec["continent"] = mmdbtype.Map{"code": mmdbtype.String(l.Continent)}
		}
		if err := t.Insert(n, rec); err != nil {
			return nil, fmt.Errorf("insert %s: %w", l.Network, err)
		}
	}
	var b bytes.Buffer
	if _, err := t.WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// ASNDB returns the bytes of a "GeoLite2-ASN" database.
func ASNDB(asns []ASN) ([]byte, error) {
	t, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoLite2-ASN", IncludeReservedNetworks: true, RecordSize: 24})
	if err != nil {
		return nil, err
	}
	for _, a := range asns {
		_, n, err := net.ParseCIDR(a.Network)
		if err != nil {
			return nil, err
		}
		rec := mmdbtype.Map{
			"autonomous_system_number":       mmdbtype.Uint32(a.Number),
			"autonomous_system_organization": mmdbtype.String(a.Org),
		}
		if err := t.Insert(n, rec); err != nil {
			return nil, fmt.Errorf("insert %s: %w", a.Network, err)
		}
	}
	var b bytes.Buffer
	if _, err := t.WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Sample is a small world used across tests: documentation and
// well-known ranges placed in known countries.
var Sample = []Location{
	{Network: "2.0.0.0/8", Country: "IT", Continent: "EU"},
	{Network: "5.0.0.0/8", Country: "CN", Continent: "AS"},
	{Network: "6.0.0.0/8", Country: "JP", Continent: "AS"},
	{Network: "7.0.0.0/8", Country: "US", Continent: "NA"},
	{Network: "8.8.8.0/24", Country: "US", Continent: "NA"},
	{Network: "9.0.0.0/8", Country: "AU", Continent: "OC"},
	{Network: "11.0.0.0/8", Registered: "DE", Continent: "EU"},
	{Network: "91.143.93.0/24", Country: "DE", Continent: "EU"},
	{Network: "2001:db8:1::/48", Country: "FR", Continent: "EU"},
	{Network: "2001:db8:2::/48", Country: "BR", Continent: "SA"},
}

// SampleASN pairs with Sample.
var SampleASN = []ASN{
	{Network: "8.8.8.0/24", Number: 15169, Org: "GOOGLE"},
	{Network: "2.0.0.0/8", Number: 3269, Org: "Telecom Italia"},
	{Network: "2001:db8:1::/48", Number: 3215, Org: "Orange"},
}

// WriteSample writes the sample databases into dir and returns their paths.
func WriteSample(dir string) (loc, asn string, err error) {
	lb, err := LocationDB(Sample)
	if err != nil {
		return "", "", err
	}
	ab, err := ASNDB(SampleASN)
	if err != nil {
		return "", "", err
	}
	loc, asn = filepath.Join(dir, "country.mmdb"), filepath.Join(dir, "asn.mmdb")
	if err := os.WriteFile(loc, lb, 0o644); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(asn, ab, 0o644); err != nil {
		return "", "", err
	}
	return loc, asn, nil
}
