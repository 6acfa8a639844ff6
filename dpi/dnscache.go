package dpi

import (
	"net/netip"
	"sync"
)

// DNSCache remembers which hostname an address was given for in DNS
// answers seen on the wire, so a later flow to that address carries a
// hostname even without SNI. It is shared by all engines (the DNS reply and
// the flow it names may land on different queue workers), bounded, and
// allocation-free once warm.
type DNSCache struct {
	shards [16]dnsShard
	per    int
}

type dnsShard struct {
	mu sync.Mutex
	m  map[netip.Addr]string
}

// NewDNSCache returns a cache holding up to about size addresses.
func NewDNSCache(size int) *DNSCache {
	if size < 16 {
		size = 16
	}
	c := &DNSCache{per: size / 16}
	for i := range c.shards {
		c.shards[i].m = make(map[netip.Addr]string, c.per)
	}
	return c
}

func (c *DNSCache) shard(a netip.Addr) *dnsShard {
	b := a.As16()
	return &c.shards[(b[15]^b[14]^b[11])&15]
}

// Put records that name resolved to a.
func (c *DNSCache) Put(a netip.Addr, name string) {
	if c == nil || name == "" || !a.IsValid() {
		return
	}
	a = a.Unmap()
	s := c.shard(a)
	s.mu.Lock()
	if old, ok := s.m[a]; !ok && len(s.m) >= c.per {
		for k := range s.m { // evict an arbitrary entry
			delete(s.m, k)
			break
		}
	} else if ok && old == name {
		s.mu.Unlock()
		return
	}
	s.m[a] = name
	s.mu.Unlock()
}

// Get returns the name a was last resolved from.
func (c *DNSCache) Get(a netip.Addr) (string, bool) {
	if c == nil {
		return "", false
	}
	a = a.Unmap()
	s := c.shard(a)
	s.mu.Lock()
	n, ok := s.m[a]
	s.mu.Unlock()
	return n, ok
}
