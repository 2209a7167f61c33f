package gateway

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"lienthong/envelope"
	"lienthong/gateway/axis"
	"lienthong/queue"
)

// Why an inbound package was quarantined, as lienthong_inbound_refused_total
// counts it.
const (
	refusedSignature    = "signature"     // no valid signature under a require policy
	refusedBinding      = "binding"       // signed, but not by a certificate bound to From
	refusedAxisSender   = "axis_sender"   // uploaded under another agency's axis identity
	refusedForgedStatus = "forged_status" // a status its sender may not give
	refusedContent      = "content"       // authentic, but not acceptable
	refusedUnreadable   = "unreadable"    // not a package that can be read: no sender to hold it against
	refusedStale        = "stale"         // an authentic status about a document no longer or never here
)

var refusals = []string{refusedSignature, refusedBinding, refusedAxisSender, refusedForgedStatus, refusedContent, refusedUnreadable, refusedStale}

// origin is what the gateway can tell of who sent a package: the agency it
// names (From), what the axis says of its uploader, and whether a
// signature bound to that agency covers it.
type origin struct {
	claimed   string
	uploader  string // the axis's word; "" when it does not say
	axisOK    bool   // the uploader is the claimed agency, or above it
	signed    bool   // a signature held
	bound     bool   // and its certificate is bound to the claimed agency
	signer    string
	mode      envelope.SignatureMode
	checkedAt time.Time
}

// authentic: the package may be applied and may hold its sender's
// DocumentId. The axis must agree on the uploader; the signature must be
// bound to the sender unless policy turned signatures off for it.
func (o origin) authentic() bool {
	return o.axisOK && ((o.signed && o.bound) || o.mode == envelope.Off)
}

// established: the sender may be answered (02). A refusal never goes to an
// agency only named by the package: the axis or a bound signature must
// vouch for it, or the gateway becomes a reflector.
func (o origin) established() bool {
	return o.claimed != "" && ((o.uploader != "" && o.axisOK) || (o.signed && o.bound))
}

// originOf weighs what the package claims against the axis and the signer.
func (in *inbound) originOf(rec inRecord, p *envelope.Inbound, cr *credentials) origin {
	o := origin{uploader: rec.From}
	var pkg *envelope.Package
	if p != nil {
		pkg = p.Package
		if pkg == nil {
			pkg = p.Claimed
		}
		o.mode = p.Mode
		if v := p.Verified; v != nil {
			o.signed, o.signer, o.checkedAt = true, v.Signer.Subject.String(), v.CheckedAt
		}
	}
	if pkg != nil {
		o.claimed = pkg.Sender()
	}
	o.axisOK = o.uploader == "" || in.speaksFor(o.uploader, o.claimed)
	if o.signed && o.claimed != "" {
		o.bound = cr.binder.boundTo(p.Verified.Signer, o.claimed)
	}
	return o
}

// speaksFor reports whether an agency uploading to the axis may send as
// code: itself or a unit under it by the code hierarchy, or one the
// configuration lets it upload for (trust.uploaders). The synced
// directory's parents count for nothing: any axis system can change them.
func (in *inbound) speaksFor(uploader, code string) bool {
	if uploader == code || under(code, uploader) {
		return true
	}
	for _, c := range in.uploaders[uploader] {
		if c == code || (strings.HasSuffix(c, "/*") && under(code, strings.TrimSuffix(c, "/*"))) {
			return true
		}
	}
	return false
}

// refusal names why an error from reading a package refused it.
func refusal(err error) string {
	if errors.Is(err, envelope.ErrSignature) {
		return refusedSignature
	}
	return refusedContent
}

// receivedAt is when the axis took the package, as the receiver knows it:
// the axis's listed time, or when we stored it if that is earlier or the
// axis did not say. A signer's own timestamps never count.
func receivedAt(r *queue.Record, rec inRecord) time.Time {
	at := r.Created
	if t, err := axis.ParseListTime(rec.AxisTime); err == nil && t.Before(at) {
		at = t
	}
	return at
}

// bindingProblem is the quarantine reason for a signer not bound to From.
func (o origin) bindingProblem() string {
	return fmt.Sprintf("Signature: the signing certificate %q is not bound to the sender %s "+
		"(it names another agency; bind it in trust.bindings if the sender really signs with it)", o.signer, o.claimed)
}

func (o origin) uploaderProblem() string {
	return fmt.Sprintf("MessageHeader/From/OrganId: the package names %s, but the axis says %s uploaded it, "+
		"which neither is that agency nor is above it", o.claimed, o.uploader)
}
