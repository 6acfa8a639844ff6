package verdict

import (
	"fmt"
	"math/bits"
)

// MarkLayout places a decision in the bits of a packet or conntrack mark
// selected by a mask, so marks owned by other software survive. Within the
// mask, from its lowest bit up:
//
//	bit 0        decided (the flow is final; the kernel handles it)
//	bits 1..3    action: 1 pass, 2 drop, 3 reject, 4 shape, 5 mark
//	bits 4..     class: shaper class or operator mark number
//
// The default mask 0x00ff0000 leaves 4 class bits (classes 1–15); a wider
// mask gives more. The mask must be one contiguous run of at least 5 bits.
type MarkLayout struct {
	mask  uint32
	shift uint8
	width uint8 // bits in the mask
}

// DefaultMarkMask is the mask used when none is configured.
const DefaultMarkMask = 0x00ff0000

const (
	decidedBit  = 1
	actionShift = 1
	actionBits  = 3
	classShift  = 4
)

// NewMarkLayout validates a mask.
func NewMarkLayout(mask uint32) (MarkLayout, error) {
	if mask == 0 {
		return MarkLayout{}, fmt.Errorf("mark mask 0: need at least 5 contiguous bits")
	}
	shift := bits.TrailingZeros32(mask)
	width := bits.OnesCount32(mask)
	if mask>>shift != (1<<width)-1 {
		return MarkLayout{}, fmt.Errorf("mark mask %#08x: bits must be contiguous", mask)
	}
	if width < classShift+1 {
		return MarkLayout{}, fmt.Errorf("mark mask %#08x: %d bits, need at least %d", mask, width, classShift+1)
	}
	return MarkLayout{mask: mask, shift: uint8(shift), width: uint8(width)}, nil
}

// Mask is the configured mask.
func (l MarkLayout) Mask() uint32 { return l.mask }

// MaxClass is the largest class number the layout can carry.
func (l MarkLayout) MaxClass() uint16 {
	w := int(l.width) - classShift
	if w > 16 {
		w = 16
	}
	return uint16(1<<w - 1)
}

// DecidedBit is the mark bit that says "decided".
func (l MarkLayout) DecidedBit() uint32 { return decidedBit << l.shift }

// ActionMask selects the decided bit and the action bits, which is what
// kernel rules match to drop, reject or accept.
func (l MarkLayout) ActionMask() uint32 {
	return (decidedBit | (1<<actionBits-1)<<actionShift) << l.shift
}

// Value is the mark value (inside the mask) for a final decision. An
// undecided decision encodes to 0. A monitored decision encodes as pass:
// this is the one place where monitor mode turns a verdict into the
// kernel's, so the flow is offloaded, passing, and unshaped.
func (l MarkLayout) Value(d Decision) uint32 {
	if !d.Final || d.Action == None {
		return 0
	}
	a := d.Enforced()
	v := uint32(decidedBit) | uint32(a)<<actionShift
	if a == Shape || a == Mark {
		v |= uint32(d.Class) << classShift
	}
	return (v << l.shift) & l.mask
}

// ActionValue is the mark value, under ActionMask, of a decided flow with
// the action a; kernel rules compare against it.
func (l MarkLayout) ActionValue(a Action) uint32 {
	return (uint32(decidedBit) | uint32(a)<<actionShift) << l.shift
}

// Apply writes d into old, keeping bits outside the mask.
func (l MarkLayout) Apply(old uint32, d Decision) uint32 {
	return old&^l.mask | l.Value(d)
}

// Decode reads a decision back out of a mark. It returns ok=false when the
// decided bit is not set.
func (l MarkLayout) Decode(mark uint32) (d Decision, ok bool) {
	v := (mark & l.mask) >> l.shift
	if v&decidedBit == 0 {
		return Decision{}, false
	}
	d.Final = true
	d.Action = Action(v >> actionShift & (1<<actionBits - 1))
	d.Class = uint16(v >> classShift)
	d.PolicyID = -1
	return d, true
}
