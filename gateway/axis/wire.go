package axis

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"lienthong/envelope"
	"strconv"
	"strings"
	"time"
)

// Wire constants of the axis adapter protocol, as the national SDK speaks it.
const (
	HeaderPrefix    = "XroadVnpt-"
	HeaderSign      = HeaderPrefix + "sign-header"
	HeaderSignKey   = HeaderPrefix + "sign-header-key"
	HeaderHash      = HeaderPrefix + "hash-header"
	HeaderVersion   = HeaderPrefix + "version"
	ProtocolVersion = "3.0.201608"
	// SDKUserAgent is what the SDK sends; adapters may log or filter on it.
	SDKUserAgent = "JAVASDKAgent/1.0.0 XRoad/VPCP"
	// FilePart is the multipart part older clients carry the package in;
	// the SDK sends the package as the raw body.
	FilePart = "file_doc"

	MessageEdoc   = "edoc"
	MessageStatus = "status"
	ServiceEdoc   = "eDoc"

	StatusDone = "done"
	StatusFail = "fail"
)

// FormatTimestamp writes the SDK's ddMMyyyy'T'HHmmss+SSSS form: the
// trailing digits are milliseconds, not a zone.
func FormatTimestamp(t time.Time) string {
	t = t.In(envelope.Vietnam)
	return t.Format("02012006T150405") + fmt.Sprintf("+%04d", t.Nanosecond()/1e6)
}

// ParseTimestamp reads FormatTimestamp's form, also without milliseconds.
func ParseTimestamp(s string) (time.Time, error) {
	base, ms, _ := strings.Cut(s, "+")
	t, err := time.ParseInLocation("02012006T150405", base, envelope.Vietnam)
	if err != nil {
		return time.Time{}, fmt.Errorf("timestamp %q: want ddMMyyyyTHHmmss+SSSS", s)
	}
	if ms != "" {
		n, err := strconv.Atoi(ms)
		if err != nil || n < 0 || n > 999 {
			return time.Time{}, fmt.Errorf("timestamp %q: milliseconds %q", s, ms)
		}
		t = t.Add(time.Duration(n) * time.Millisecond)
	}
	return t, nil
}

// HashFile renders a SHA-256 as the SDK does: each byte in lower-case hex
// without zero padding, so 0x0a becomes "a". Padded gives plain hex.
func HashFile(sum [32]byte, padded bool) string {
	if padded {
		return hex.EncodeToString(sum[:])
	}
	var b strings.Builder
	for _, c := range sum {
		b.WriteString(strconv.FormatUint(uint64(c), 16))
	}
	return b.String()
}

// Field is one header of a call, named without the XroadVnpt- prefix.
type Field struct{ Name, Value string }

// SignedHeaders are the HTTP headers that carry a call's fields and their
// HMAC.
type SignedHeaders struct {
	Headers    map[string]string // XroadVnpt-<name> → value, Content-Type too
	SignHeader string            // the JSON the HMAC covers
	SignKeys   string            // the ;-joined field names
	Hash       string            // hex HMAC-SHA256(secret, SignHeader)
}

// Sign builds the signed header set for fields, in their order.
func Sign(secret []byte, fields []Field) SignedHeaders {
	sh := SignedHeaders{Headers: make(map[string]string, len(fields))}
	var js strings.Builder
	names := make([]string, len(fields))
	js.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			js.WriteByte(',')
		}
		k, _ := json.Marshal(HeaderPrefix + f.Name)
		v, _ := json.Marshal(f.Value)
		js.Write(k)
		js.WriteByte(':')
		js.Write(v)
		names[i] = f.Name
		sh.Headers[HeaderPrefix+f.Name] = f.Value
	}
	js.WriteByte('}')
	sh.SignHeader = js.String()
	sh.SignKeys = strings.Join(names, ";")
	sh.Hash = HMAC(secret, sh.SignHeader)
	return sh
}

// HMAC is the lower-case hex HMAC-SHA256 of msg under secret.
func HMAC(secret []byte, msg string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

// Answer is the JSON every operation answers with. Data holds the
// operation's payload; its shape depends on the operation.
type Answer struct {
	Status    string          `json:"status"`
	ErrorCode string          `json:"ErrorCode"`
	ErrorDesc string          `json:"ErrorDesc"`
	DocID     string          `json:"DocId,omitempty"`
	Count     json.RawMessage `json:"count,omitempty"` // a number, or a string of one

	Data json.RawMessage `json:"data,omitempty"`
}

// OK reports a successful answer.
func (a *Answer) OK() bool {
	return strings.EqualFold(a.Status, "OK") && (a.ErrorCode == "" || a.ErrorCode == "0")
}

// ReceivedItem is one entry of getReceivedEdocList.
type ReceivedItem struct {
	DocID       string `json:"docId"`
	ServiceType string `json:"serviceType"`
	MessageType string `json:"messageType"`
	Created     string `json:"created_time"`
	Updated     string `json:"updated_time"`
	From        string `json:"from"`
	To          string `json:"to"`
	Status      string `json:"status"`
	StatusDesc  string `json:"status_desc"`
}

// SentItem is one recipient's entry of getSentEdocList.
type SentItem struct {
	SenderDocID       string `json:"senderDocId"`
	ReceiverDocID     string `json:"receiverDocId"`
	FromCode          string `json:"fromCode"`
	ToCode            string `json:"toCode"`
	Title             string `json:"title"`
	Notation          string `json:"notation"`
	MessageType       string `json:"messageType"`
	ServiceType       string `json:"serviceType"`
	SentTime          string `json:"sentTime"`
	ReceivedTime      string `json:"receivedTime"`
	SendStatus        string `json:"sendStatus"`
	SendStatusDesc    string `json:"sendStatusDesc"`
	ReceiveStatus     string `json:"receiveStatus"`
	ReceiveStatusDesc string `json:"receiveStatusDesc"`
}

// Agency is one entry of getAgenciesList and getSynchronizeUnit; the
// fields the directory sync needs.
type Agency struct {
	ID         string `json:"id,omitempty"`
	Code       string `json:"code"`
	Name       string `json:"name"`
	Mail       string `json:"mail,omitempty"`
	Parent     string `json:"pid,omitempty"`
	OldCode    string `json:"oldCode,omitempty"`
	Version    int64  `json:"version,omitempty"`
	Deleted    bool   `json:"deleted,omitempty"`
	ModifyDate string `json:"modifyDate,omitempty"`
}

// Registration is the body of registerAgency.
type Registration struct {
	ID     string `json:"id,omitempty"`
	Parent string `json:"pcode,omitempty"`
	Code   string `json:"code"`
	Name   string `json:"name"`
	Mail   string `json:"mail"`
	Mobile string `json:"mobile,omitempty"`
	Fax    string `json:"fax,omitempty"`
}

// ListTime is how the list operations write times, in envelope.Vietnam's zone.
const ListTime = "2006-01-02 15:04:05"

// ParseListTime reads a list operation's time: ListTime, or the slash
// forms some adapters use (yyyy/MM/dd and dd/MM/yyyy).
func ParseListTime(s string) (time.Time, error) {
	for _, layout := range []string{ListTime, "2006/01/02 15:04:05", "02/01/2006 15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, envelope.Vietnam); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("axis: %q is not a list time like %s", s, ListTime)
}
