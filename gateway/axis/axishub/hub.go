// Package axishub is a reference implementation of the national axis
// adapter, speaking the same wire protocol as the real one, because the
// real axis cannot be reached from development machines or CI. It keeps
// its state in bbolt, so a restart loses nothing, and has fault knobs to
// make it misbehave the ways networks and adapters do.
package axishub

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"lienthong/directory"
	"lienthong/envelope"
	"lienthong/gateway/axis"
)

// System is an integration system allowed to call the hub, with the agency
// codes it may send as.
type System struct {
	SystemID string   `json:"systemId"`
	Secret   string   `json:"secret"`
	Codes    []string `json:"codes"`
}

// Faults make the hub misbehave. The zero value behaves.
type Faults struct {
	ErrorRate       float64       // share of calls answered HTTP 500
	LatencyMin      time.Duration // every call waits between min and max
	LatencyMax      time.Duration
	OutageUntil     time.Time // calls before then are answered HTTP 503
	DropAfterUpload float64   // share of sendEdoc calls whose connection is closed after the package is stored
	Duplicate       bool      // a package acknowledged done is delivered once more
	SlowRead        int       // upload bytes read per second; 0 is full speed
}

// Options configure a Hub.
type Options struct {
	Dir      string // where axishub.db lives
	Systems  []System
	Agencies []axis.Agency
	// Window is how far a call's timestamp may be from the hub's clock;
	// default 5 minutes.
	Window     time.Duration
	MaxPackage int64 // default 200 MiB
	Now        func() time.Time
	Seed       uint64 // for the fault dice; 0 picks one
	Faults     Faults
}

// Hub is the reference axis adapter; it is an http.Handler.
type Hub struct {
	db      *bolt.DB
	systems map[string]System
	opts    Options

	mu     sync.Mutex
	faults Faults
	rnd    *mrand.Rand
	calls  atomic.Int64
}

// Calls counts the requests the hub was sent, so tests can bound how hard
// gateways press on a failing axis.
func (h *Hub) Calls() int64 { return h.calls.Load() }

var (
	bDocs     = []byte("docs")
	bBlobs    = []byte("blobs")
	bPending  = []byte("pending")
	bAgencies = []byte("agencies")
)

// doc is the hub's record of a package.
type doc struct {
	DocID       string                `json:"docId"`
	From        string                `json:"from"`
	MessageType string                `json:"messageType"`
	Title       string                `json:"title"`
	Notation    string                `json:"notation"`
	Created     time.Time             `json:"created"`
	Size        int                   `json:"size"`
	Recipients  map[string]*recipient `json:"recipients"`
	Redelivered bool                  `json:"redelivered"`
}

type recipient struct {
	Status  string    `json:"status"` // pending, done, fail
	Updated time.Time `json:"updated"`
}

// Open opens or creates the hub's store in opts.Dir and seeds its agency
// directory with opts.Agencies, keeping registrations made since.
func Open(opts Options) (*Hub, error) {
	if opts.Window <= 0 {
		opts.Window = 5 * time.Minute
	}
	if opts.MaxPackage <= 0 {
		opts.MaxPackage = 200 << 20
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Seed == 0 {
		var b [8]byte
		rand.Read(b[:])
		for _, c := range b {
			opts.Seed = opts.Seed<<8 | uint64(c)
		}
	}
	db, err := bolt.Open(filepath.Join(opts.Dir, "axishub.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("axishub store: %w", err)
	}
	h := &Hub{db: db, systems: map[string]System{}, opts: opts, faults: opts.Faults, rnd: mrand.New(mrand.NewPCG(opts.Seed, 1))}
	for _, s := range opts.Systems {
		if s.SystemID == "" || s.Secret == "" {
			db.Close()
			return nil, errors.New("axishub: every system needs systemId and secret")
		}
		h.systems[s.SystemID] = s
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bDocs, bBlobs, bPending, bAgencies} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		ab := tx.Bucket(bAgencies)
		for _, a := range opts.Agencies {
			if ab.Get([]byte(a.Code)) != nil {
				continue
			}
			if a.Version == 0 {
				a.Version = 1
			}
			v, _ := json.Marshal(a)
			if err := ab.Put([]byte(a.Code), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return h, nil
}

// Close closes the store.
func (h *Hub) Close() error { return h.db.Close() }

// SetFaults changes how the hub misbehaves from now on.
func (h *Hub) SetFaults(f Faults) {
	h.mu.Lock()
	h.faults = f
	h.mu.Unlock()
}

func (h *Hub) dice() (f Faults, roll, roll2 float64, latency time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f = h.faults
	roll, roll2 = h.rnd.Float64(), h.rnd.Float64()
	if f.LatencyMax > f.LatencyMin {
		latency = f.LatencyMin + time.Duration(h.rnd.Int64N(int64(f.LatencyMax-f.LatencyMin)))
	} else {
		latency = f.LatencyMin
	}
	return
}

// failure is a FAIL answer.
type failure struct {
	code, desc string
}

func (f *failure) Error() string { return f.desc }

func fail(code, format string, args ...any) error {
	return &failure{code: code, desc: fmt.Sprintf(format, args...)}
}

// ServeHTTP answers one axis operation, named by the last path segment.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.calls.Add(1)
	f, roll, roll2, latency := h.dice()
	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
			return
		}
	}
	switch {
	case h.opts.Now().Before(f.OutageUntil):
		http.Error(w, "axis adapter unavailable (outage)", http.StatusServiceUnavailable)
		return
	case roll < f.ErrorRate:
		http.Error(w, "axis adapter internal error (injected)", http.StatusInternalServerError)
		return
	}
	op := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	sys, hdr, err := h.authenticate(r)
	var a *axis.Answer
	if err == nil {
		a, err = h.operate(w, r, op, sys, hdr, f, roll2)
	}
	if errors.Is(err, errDropped) {
		return
	}
	if err != nil {
		var fl *failure
		if !errors.As(err, &fl) {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		a = &axis.Answer{Status: "FAIL", ErrorCode: fl.code, ErrorDesc: fl.desc}
	}
	if a == nil {
		return // already written (downloadEdoc)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(a)
}

var errDropped = errors.New("connection dropped")

// authenticate checks the HMAC over the received sign-header string, that
// every signed field arrived as a header with the signed value, the
// timestamp window and the system id. It returns the signed fields.
func (h *Hub) authenticate(r *http.Request) (System, map[string]string, error) {
	signHeader := r.Header.Get(axis.HeaderSign)
	if signHeader == "" {
		return System{}, nil, fail("401", "missing %s", axis.HeaderSign)
	}
	fields := map[string]string{}
	if err := json.Unmarshal([]byte(signHeader), &fields); err != nil {
		return System{}, nil, fail("401", "%s is not a JSON object: %v", axis.HeaderSign, err)
	}
	hdr := map[string]string{}
	for k, v := range fields {
		name, ok := strings.CutPrefix(k, axis.HeaderPrefix)
		if !ok {
			return System{}, nil, fail("401", "signed field %q lacks the %s prefix", k, axis.HeaderPrefix)
		}
		if got := headerValue(r, k); got != v {
			return System{}, nil, fail("401", "header %s is %q but was signed as %q", k, got, v)
		}
		hdr[name] = v
	}
	sys, ok := h.systems[hdr["systemid"]]
	if !ok {
		return System{}, nil, fail("401", "unknown systemid %q", hdr["systemid"])
	}
	want := axis.HMAC([]byte(sys.Secret), signHeader)
	if !hmac.Equal([]byte(want), []byte(strings.ToLower(r.Header.Get(axis.HeaderHash)))) {
		return System{}, nil, fail("401", "%s does not match the HMAC of %s under the secret of %s", axis.HeaderHash, axis.HeaderSign, sys.SystemID)
	}
	keys := strings.Split(r.Header.Get(axis.HeaderSignKey), ";")
	if len(keys) != len(fields) {
		return System{}, nil, fail("401", "%s names %d fields, %s holds %d", axis.HeaderSignKey, len(keys), axis.HeaderSign, len(fields))
	}
	for _, k := range keys {
		if _, ok := hdr[k]; !ok {
			return System{}, nil, fail("401", "%s names %q, which is not signed", axis.HeaderSignKey, k)
		}
	}
	ts, err := axis.ParseTimestamp(hdr["timestamp"])
	if err != nil {
		return System{}, nil, fail("401", "%v", err)
	}
	if d := h.opts.Now().Sub(ts); d > h.opts.Window || d < -h.opts.Window {
		return System{}, nil, fail("401", "timestamp %s is %s away from the hub's clock; the window is %s", hdr["timestamp"], d.Round(time.Second), h.opts.Window)
	}
	return sys, hdr, nil
}

// headerValue reads a header by the exact name the SDK writes, falling
// back to Go's canonical form.
func headerValue(r *http.Request, name string) string {
	if v, ok := r.Header[name]; ok && len(v) > 0 {
		return v[0]
	}
	return r.Header.Get(name)
}

func (h *Hub) operate(w http.ResponseWriter, r *http.Request, op string, sys System, hdr map[string]string, f Faults, roll float64) (*axis.Answer, error) {
	ok := &axis.Answer{Status: "OK", ErrorCode: "0", ErrorDesc: "Thành công"}
	switch op {
	case "sendEdoc":
		id, err := h.send(r, sys, hdr, f)
		if err != nil {
			return nil, err
		}
		if roll < f.DropAfterUpload {
			return nil, drop(w)
		}
		ok.DocID = id
		return ok, nil
	case "getReceivedEdocList":
		items, err := h.received(sys, hdr["messagetype"])
		return withData(ok, items, err)
	case "countReceiveEdoc", "countReceiveStatus":
		mt := axis.MessageEdoc
		if op == "countReceiveStatus" {
			mt = axis.MessageStatus
		}
		items, err := h.received(sys, mt)
		if err != nil {
			return nil, err
		}
		ok.Count = json.RawMessage(fmt.Sprint(len(items)))
		return ok, nil
	case "getEdoc":
		b, err := h.fetch(sys, hdr["docId"])
		return withData(ok, base64.StdEncoding.EncodeToString(b), err)
	case "downloadEdoc":
		b, err := h.fetch(sys, hdr["docId"])
		if err != nil {
			return nil, err
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(b)
		return nil, nil
	case "updateStatus":
		id := hdr["docid"]
		if id == "" {
			id = hdr["docId"]
		}
		return ok, h.updateStatus(sys, id, strings.ToLower(hdr["status"]), f.Duplicate)
	case "getSentEdocList":
		items, err := h.sent(sys, hdr["messagetype"], hdr["docId"])
		return withData(ok, items, err)
	case "getAgenciesList", "getSynchronizeUnit":
		list, err := h.agencies(op == "getSynchronizeUnit")
		return withData(ok, list, err)
	case "registerAgency":
		return ok, h.register(r)
	case "deleteAgency":
		return ok, h.deleteAgency(hdr["AgencyCode"])
	}
	return nil, fail("404", "unknown operation %q", op)
}

func withData(a *axis.Answer, v any, err error) (*axis.Answer, error) {
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	a.Data = b
	return a, nil
}

// drop closes the connection without an answer: the sender cannot tell
// whether its package arrived.
func drop(w http.ResponseWriter) error {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err == nil {
		conn.Close()
	}
	return errDropped
}

// slowReader reads at most rate bytes per second.
type slowReader struct {
	r    io.Reader
	rate int
}

func (s *slowReader) Read(p []byte) (int, error) {
	chunk := max(s.rate/10, 1)
	if len(p) > chunk {
		p = p[:chunk]
	}
	time.Sleep(100 * time.Millisecond)
	return s.r.Read(p)
}

func (h *Hub) send(r *http.Request, sys System, hdr map[string]string, f Faults) (string, error) {
	from := hdr["from"]
	if !slices.Contains(sys.Codes, from) {
		return "", fail("403", "Don vi gui %s khong dung voi ma da dang ky: %s", from, sys.SystemID)
	}
	mt := strings.ToLower(hdr["messagetype"])
	if mt != axis.MessageEdoc && mt != axis.MessageStatus {
		return "", fail("400", "messagetype %q: want edoc or status", hdr["messagetype"])
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return "", fail("400", "body is not multipart/form-data: %v", err)
	}
	var body []byte
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", fail("400", "multipart body: %v", err)
		}
		if p.FormName() != axis.FilePart {
			continue
		}
		var src io.Reader = p
		if f.SlowRead > 0 {
			src = &slowReader{r: p, rate: f.SlowRead}
		}
		body, err = io.ReadAll(io.LimitReader(src, h.opts.MaxPackage+1))
		if err != nil {
			return "", fail("400", "reading %s: %v", axis.FilePart, err)
		}
		if int64(len(body)) > h.opts.MaxPackage {
			return "", fail("413", "package over %d bytes", h.opts.MaxPackage)
		}
	}
	if body == nil {
		return "", fail("400", "no %s part in the upload", axis.FilePart)
	}
	sum := sha256.Sum256(body)
	got := strings.ToLower(hdr["hash-file"])
	if got != axis.HashFile(sum, false) && got != axis.HashFile(sum, true) {
		return "", fail("400", "hash-file %q does not match the SHA-256 of the uploaded file", hdr["hash-file"])
	}
	pkg, _ := envelope.ParseBytes(body, envelope.ParseOptions{})
	if pkg == nil {
		return "", fail("400", "file_doc is not an edXML package")
	}
	var to []string
	if t := hdr["to"]; t != "" {
		if err := json.Unmarshal([]byte(t), &to); err != nil {
			return "", fail("400", "to %q is not a JSON array of codes", t)
		}
	}
	d := &doc{DocID: newID(h.opts.Now()), From: from, MessageType: mt, Created: h.opts.Now(), Size: len(body), Recipients: map[string]*recipient{}}
	switch {
	case pkg.Status != nil:
		if len(to) == 0 {
			to = []string{pkg.Status.ResponseFor.OrganID}
		}
		d.Notation = pkg.Status.ResponseFor.Code
		d.Title = "Status " + string(pkg.Status.StatusCode)
	case pkg.Document != nil:
		if len(to) == 0 {
			for _, o := range pkg.Document.Header.To {
				to = append(to, o.OrganID)
			}
		}
		d.Title = pkg.Document.Header.Subject
		d.Notation = pkg.Document.Header.Code.CodeNumber + "/" + pkg.Document.Header.Code.CodeNotation
	}
	if len(to) == 0 {
		return "", fail("400", "the package names no recipient")
	}
	err = h.db.Update(func(tx *bolt.Tx) error {
		ab := tx.Bucket(bAgencies)
		for _, code := range to {
			var a axis.Agency
			if v := ab.Get([]byte(code)); v == nil || json.Unmarshal(v, &a) != nil || a.Deleted {
				return fail("404", "unknown recipient %s", code)
			}
			d.Recipients[code] = &recipient{Status: "pending", Updated: d.Created}
			if err := tx.Bucket(bPending).Put(pendingKey(code, d.DocID), []byte(mt)); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bBlobs).Put([]byte(d.DocID), body); err != nil {
			return err
		}
		return putDoc(tx, d)
	})
	return d.DocID, err
}

// newID is time-ordered, so pending lists come out oldest first.
func newID(now time.Time) string {
	var b [6]byte
	rand.Read(b[:])
	return fmt.Sprintf("%013x%s", now.UnixMilli(), hex.EncodeToString(b[:]))
}

func pendingKey(code, id string) []byte { return []byte(code + "\x00" + id) }

func putDoc(tx *bolt.Tx, d *doc) error {
	v, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return tx.Bucket(bDocs).Put([]byte(d.DocID), v)
}

func getDoc(tx *bolt.Tx, id string) (*doc, error) {
	v := tx.Bucket(bDocs).Get([]byte(id))
	if v == nil {
		return nil, fail("404", "no document %q", id)
	}
	var d doc
	return &d, json.Unmarshal(v, &d)
}

const listTime = axis.ListTime

func (h *Hub) received(sys System, mt string) ([]axis.ReceivedItem, error) {
	items := []axis.ReceivedItem{}
	err := h.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bPending).Cursor()
		for _, code := range sys.Codes {
			prefix := []byte(code + "\x00")
			for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
				if !strings.EqualFold(string(v), mt) {
					continue
				}
				d, err := getDoc(tx, string(k[len(prefix):]))
				if err != nil {
					return err
				}
				rc := d.Recipients[code]
				items = append(items, axis.ReceivedItem{
					DocID: d.DocID, ServiceType: axis.ServiceEdoc, MessageType: d.MessageType,
					Created: d.Created.In(envelope.Vietnam).Format(listTime), Updated: rc.Updated.In(envelope.Vietnam).Format(listTime),
					From: d.From, To: code, Status: rc.Status,
				})
			}
		}
		return nil
	})
	return items, err
}

// fetch returns a package to one of its recipients.
func (h *Hub) fetch(sys System, id string) ([]byte, error) {
	var out []byte
	err := h.db.View(func(tx *bolt.Tx) error {
		d, err := getDoc(tx, id)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(sys.Codes, func(c string) bool { return d.Recipients[c] != nil }) {
			return fail("403", "document %s is not addressed to %s", id, sys.SystemID)
		}
		out = bytes.Clone(tx.Bucket(bBlobs).Get([]byte(id)))
		return nil
	})
	return out, err
}

func (h *Hub) updateStatus(sys System, id, status string, duplicate bool) error {
	if status != axis.StatusDone && status != axis.StatusFail && status != "processing" {
		return fail("400", "status %q: want done, fail or processing", status)
	}
	return h.db.Update(func(tx *bolt.Tx) error {
		d, err := getDoc(tx, id)
		if err != nil {
			return err
		}
		n := 0
		for _, code := range sys.Codes {
			rc := d.Recipients[code]
			if rc == nil {
				continue
			}
			n++
			rc.Status, rc.Updated = status, h.opts.Now()
			if status == axis.StatusDone {
				if duplicate && !d.Redelivered {
					d.Redelivered = true // the fault: it stays pending once more
					continue
				}
				if err := tx.Bucket(bPending).Delete(pendingKey(code, id)); err != nil {
					return err
				}
			}
		}
		if n == 0 {
			return fail("403", "document %s is not addressed to %s", id, sys.SystemID)
		}
		return putDoc(tx, d)
	})
}

func (h *Hub) sent(sys System, mt, id string) ([]axis.SentItem, error) {
	items := []axis.SentItem{}
	err := h.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bDocs).ForEach(func(k, v []byte) error {
			if id != "" && string(k) != id {
				return nil
			}
			var d doc
			if err := json.Unmarshal(v, &d); err != nil {
				return err
			}
			if !slices.Contains(sys.Codes, d.From) || (mt != "" && !strings.EqualFold(d.MessageType, mt)) {
				return nil
			}
			codes := make([]string, 0, len(d.Recipients))
			for c := range d.Recipients {
				codes = append(codes, c)
			}
			slices.Sort(codes)
			for _, c := range codes {
				rc := d.Recipients[c]
				it := axis.SentItem{
					SenderDocID: d.DocID, ReceiverDocID: d.DocID, FromCode: d.From, ToCode: c,
					Title: d.Title, Notation: d.Notation, MessageType: d.MessageType, ServiceType: axis.ServiceEdoc,
					SentTime: d.Created.In(envelope.Vietnam).Format(listTime), SendStatus: "done",
					ReceiveStatus: rc.Status,
				}
				if rc.Status != "pending" {
					it.ReceivedTime = rc.Updated.In(envelope.Vietnam).Format(listTime)
				}
				items = append(items, it)
			}
			return nil
		})
	})
	return items, err
}

func (h *Hub) agencies(all bool) ([]axis.Agency, error) {
	list := []axis.Agency{}
	err := h.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bAgencies).ForEach(func(k, v []byte) error {
			var a axis.Agency
			if err := json.Unmarshal(v, &a); err != nil {
				return err
			}
			if !all {
				if a.Deleted {
					return nil
				}
				a.Version, a.ModifyDate = 0, ""
			}
			list = append(list, a)
			return nil
		})
	})
	return list, err
}

func (h *Hub) register(r *http.Request) error {
	var reg axis.Registration
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&reg); err != nil {
		return fail("400", "body is not a registration JSON object: %v", err)
	}
	if _, err := directory.ParseCode(reg.Code); err != nil {
		return fail("400", "code: %v", err)
	}
	if strings.TrimSpace(reg.Name) == "" || !strings.Contains(reg.Mail, "@") {
		return fail("400", "name and a valid mail are required")
	}
	return h.putAgency(reg.Code, func(a *axis.Agency) {
		*a = axis.Agency{ID: reg.ID, Code: reg.Code, Name: reg.Name, Mail: reg.Mail, Parent: reg.Parent, Version: a.Version}
	})
}

func (h *Hub) deleteAgency(code string) error {
	return h.putAgency(code, func(a *axis.Agency) {
		if a.Code == "" {
			a.Code = code
		}
		a.Deleted = true
	})
}

func (h *Hub) putAgency(code string, change func(*axis.Agency)) error {
	if code == "" {
		return fail("400", "AgencyCode is required")
	}
	return h.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bAgencies)
		var a axis.Agency
		if v := b.Get([]byte(code)); v != nil {
			if err := json.Unmarshal(v, &a); err != nil {
				return err
			}
		}
		change(&a)
		a.Version++
		a.ModifyDate = h.opts.Now().In(envelope.Vietnam).Format(listTime)
		v, err := json.Marshal(a)
		if err != nil {
			return err
		}
		return b.Put([]byte(code), v)
	})
}

// ReadSystems reads systems.json: [{"systemId","secret","codes":[...]}].
func ReadSystems(path string) ([]System, error) {
	var s []System
	return s, readJSON(path, &s)
}

// ReadAgencies reads agencies.json in the getAgenciesList shape:
// [{"code","name","pid","mail"}].
func ReadAgencies(path string) ([]axis.Agency, error) {
	var a []axis.Agency
	if err := readJSON(path, &a); err != nil {
		return nil, err
	}
	for i, x := range a {
		if _, err := directory.ParseCode(x.Code); err != nil {
			return nil, fmt.Errorf("%s: entry %d: %w", path, i, err)
		}
	}
	return a, nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
