package gateway_test

import (
	"lienthong/gateway/clocktest"
	"lienthong/gateway/devstack/stacktest"
)

// The exchange tests run the engine whole, between a reference hub and a
// peer gateway, on a fake clock: what an agency and its peers see.

type fakeClock = clocktest.Clock

var (
	start           = stacktest.Start
	eventually      = stacktest.Eventually
	memo            = stacktest.Memo
	recipientStatus = stacktest.RecipientStatus
	waitInbox       = stacktest.WaitInbox
	newInbox        = stacktest.Inbox
	newAgencyKey    = stacktest.NewAgencyKey
	status          = stacktest.Status
)
