package localapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader carries a webhook call's signature: t=UNIX,v1=HEX, the
// hex HMAC-SHA256, under the shared webhook secret, of the time, a dot and
// the body. The time is signed so a captured call cannot be replayed
// later: a receiver refuses one outside its window.
const SignatureHeader = "X-Lienthong-Signature"

// SignNotification is the SignatureHeader value of a body sent at t.
func SignNotification(secret, body []byte, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts + "."))
	m.Write(body)
	return m.Sum(nil)
}

// VerifyNotification checks a webhook call as a receiver should: the
// signature over the time and the body, and the time within window of
// now (five minutes is usual).
func VerifyNotification(secret []byte, header string, body []byte, now time.Time, window time.Duration) error {
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			if b, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, b)
			}
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return fmt.Errorf("%s %q: want t=UNIX,v1=HEX", SignatureHeader, header)
	}
	want := mac(secret, ts, body)
	ok := false
	for _, s := range sigs {
		ok = ok || hmac.Equal(s, want)
	}
	if !ok {
		return errors.New("webhook signature does not match the body under the secret")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > window || d < -window {
		return fmt.Errorf("webhook call signed %s away from now, outside the %s window: a replay?", d.Round(time.Second), window)
	}
	return nil
}
