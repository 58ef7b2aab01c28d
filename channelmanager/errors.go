package channelmanager

import "errors"

// Errors returned by ChannelManager's API. Each is an errors.Is-able sentinel, usually wrapped with
// detail.
var (
	// ErrAPIMisuse: the call does not fit the channel's state (e.g. funding a channel twice).
	ErrAPIMisuse = errors.New("channelmanager: API misuse")
	// ErrChannelUnavailable: no such channel with that peer, or it cannot do what was asked now.
	ErrChannelUnavailable = errors.New("channelmanager: channel unavailable")
	// ErrPeerNotConnected: the counterparty is not connected.
	ErrPeerNotConnected = errors.New("channelmanager: peer not connected")
	// ErrInvalidFundingTx: the funding transaction does not pay the funding script as agreed.
	ErrInvalidFundingTx = errors.New("channelmanager: invalid funding transaction")
	// ErrDuplicatePayment: a payment with this PaymentID is already pending or done.
	ErrDuplicatePayment = errors.New("channelmanager: duplicate payment id")
	// ErrPartialSend: a multi-path payment's first paths were sent and a later one could not be; the
	// paths sent stay in flight, the others count as failed (the wrapped error says why).
	ErrPartialSend = errors.New("channelmanager: only part of the payment was sent")
	// ErrInvalidRoute: the route is malformed or does not start at one of our usable channels.
	ErrInvalidRoute = errors.New("channelmanager: invalid route")
	// ErrUnknownPayment: no claimable payment with that hash.
	ErrUnknownPayment = errors.New("channelmanager: unknown payment")
	// ErrTooManyPeers: PeerConnected refused an inbound peer without a funded channel because
	// MaxNoChannelPeers such peers are connected.
	ErrTooManyPeers = errors.New("channelmanager: too many peers without a funded channel")
	// ErrPaymentNotClaimed: ClaimFunds found the payment but could claim none of its HTLCs (their
	// channels are gone, or refused the fulfill); the payment is forgotten and no PaymentClaimed follows.
	ErrPaymentNotClaimed = errors.New("channelmanager: no HTLC of the payment could be claimed")
	// ErrInvalidConfig: the UserConfig cannot work.
	ErrInvalidConfig = errors.New("channelmanager: invalid config")

	errNotReady         = errors.New("channel is not ready for payments")
	errAwaitingRAA      = errors.New("waiting for revoke_and_ack")
	errNothingToCommit  = errors.New("no changes to commit")
	errInsufficientFund = errors.New("insufficient balance (reserve, fee and in-flight HTLCs counted)")
	errHTLCBelowMinimum = errors.New("amount below the counterparty's htlc_minimum_msat")
	errCLTVTooFar       = errors.New("cltv_expiry is not a block height")
	errTooManyHTLCs     = errors.New("counterparty's max_accepted_htlcs reached")
	errMaxInFlight      = errors.New("counterparty's max_htlc_value_in_flight_msat reached")
	errUnknownHTLC      = errors.New("unknown or uncommitted HTLC")
	errBadPreimage      = errors.New("preimage does not match the payment hash")
	errNotFunder        = errors.New("only the funder may send update_fee")
)
