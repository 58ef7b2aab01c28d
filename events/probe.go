package events

import "fmt"

// ProbeSuccessful reports that a probe (ChannelManager.SendProbe) reached its last hop, which refused it
// as it must (it cannot know the payment hash): every channel of the path could carry the amount.
type ProbeSuccessful struct {
	PaymentID   PaymentID
	PaymentHash [32]byte
}

// ProbeFailed reports that a probe failed before its last hop, at the channel ShortChannelID (0 if not
// attributable).
type ProbeFailed struct {
	PaymentID      PaymentID
	PaymentHash    [32]byte
	ShortChannelID uint64
}

func (ProbeSuccessful) isEvent() {}
func (ProbeFailed) isEvent()     {}

func (e ProbeSuccessful) String() string {
	return fmt.Sprintf("ProbeSuccessful{%x}", e.PaymentHash[:4])
}
func (e ProbeFailed) String() string {
	return fmt.Sprintf("ProbeFailed{%x, scid %d}", e.PaymentHash[:4], e.ShortChannelID)
}
