package axishub

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"

	bolt "go.etcd.io/bbolt"

	"lienthong/directory"
	"lienthong/envelope"
	"lienthong/gateway/axis"
	"lienthong/gateway/netcap"
	"lienthong/queue/atomicfile"
)

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
	if h.opts.Dialect == axis.DialectREST {
		h.serveREST(w, r, f, roll, roll2)
		return
	}
	op := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	switch {
	case h.opts.Now().Before(f.OutageUntil):
		writeAnswer(w, http.StatusServiceUnavailable, op, &axis.Answer{Status: "FAIL", ErrorCode: "503", ErrorDesc: "axis adapter unavailable (outage)"})
		return
	case roll < f.ErrorRate, f.FetchFails && (op == "getEdoc" || op == "downloadEdoc"):
		writeAnswer(w, http.StatusInternalServerError, op, &axis.Answer{Status: "FAIL", ErrorCode: "500", ErrorDesc: "axis adapter internal error (injected)"})
		return
	}
	if op == "sendEdoc" {
		// Each upload may spool a large package: a bounded number at once,
		// and each must keep coming.
		if !h.uploads.Take() {
			writeAnswer(w, http.StatusServiceUnavailable, op, &axis.Answer{Status: "FAIL", ErrorCode: "503",
				ErrorDesc: fmt.Sprintf("%d uploads are being read already: try again shortly", cap(h.uploads))})
			return
		}
		defer h.uploads.Give()
		if f.SlowRead == 0 { // a hub told to read slowly waits for itself
			r.Body = netcap.Body(w, r.Body, h.opts.BodyWait)
		}
	}
	sys, hdr, err := h.authenticate(r)
	var a *axis.Answer
	if err == nil {
		a, err = h.operate(w, r, op, sys, hdr, f, roll2)
	}
	if errors.Is(err, errDropped) {
		return
	}
	code := http.StatusOK
	if err != nil {
		var fl *failure
		if !errors.As(err, &fl) {
			fl = &failure{code: "500", desc: err.Error()}
			code = http.StatusInternalServerError
		}
		a = &axis.Answer{Status: "FAIL", ErrorCode: fl.code, ErrorDesc: fl.desc}
	}
	if a == nil {
		return // already written (downloadEdoc)
	}
	writeAnswer(w, code, op, a)
}

// sendAnswer is sendEdoc's answer: the SDK reads DocId unconditionally,
// so it is there, empty, on FAIL too.
type sendAnswer struct {
	Status    string `json:"status"`
	ErrorCode string `json:"ErrorCode"`
	ErrorDesc string `json:"ErrorDesc"`
	DocID     string `json:"DocId"`
}

// writeAnswer writes the JSON answer every operation gets: status,
// ErrorCode and ErrorDesc always, ErrorDesc in ASCII (the SDK reads the
// answer as US-ASCII, as the production adapter writes it).
func writeAnswer(w http.ResponseWriter, code int, op string, a *axis.Answer) {
	a.ErrorDesc = ascii(a.ErrorDesc)
	var v any = a
	if op == "sendEdoc" {
		v = sendAnswer{Status: a.Status, ErrorCode: a.ErrorCode, ErrorDesc: a.ErrorDesc, DocID: a.DocID}
	}
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{"status":"FAIL","ErrorCode":"500","ErrorDesc":"answer not encodable"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	w.Write(escapeNonASCII(b))
}

// escapeNonASCII writes every character outside ASCII as a JSON \u
// escape: the same JSON, readable by a client that decodes US-ASCII.
// Outside strings JSON is ASCII, so only string contents change.
func escapeNonASCII(b []byte) []byte {
	if !slices.ContainsFunc(b, func(c byte) bool { return c >= 0x80 }) {
		return b
	}
	out := make([]byte, 0, len(b)+len(b)/4)
	for _, r := range string(b) {
		switch {
		case r < 0x80:
			out = append(out, byte(r))
		case r > 0xffff:
			r1, r2 := utf16.EncodeRune(r)
			out = fmt.Appendf(out, `\u%04x\u%04x`, r1, r2)
		default:
			out = fmt.Appendf(out, `\u%04x`, r)
		}
	}
	return out
}

// ascii drops the Vietnamese marks from a description, so "Thành công"
// reads "Thanh cong", and replaces anything else outside ASCII.
func ascii(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x80 {
			return r
		}
		if b := directory.Fold(string(r)); len(b) == 1 && b[0] < 0x80 {
			if unicode.IsUpper(r) {
				return unicode.ToUpper(rune(b[0]))
			}
			return rune(b[0])
		}
		return '?'
	}, s)
}

// authenticate checks the HMAC over the received sign-header string, that
// every signed field arrived as a header with the signed value, the
// timestamp window and the system id. It returns the signed fields.
func (h *Hub) authenticate(r *http.Request) (System, map[string]string, error) {
	signHeader := headerValue(r, axis.HeaderSign)
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
	h.mu.Lock()
	sys, ok := h.systems[hdr["systemid"]]
	h.mu.Unlock()
	// An unknown system and a wrong secret get one answer, so that no
	// client learns which system ids exist.
	want := axis.HMAC([]byte(sys.Secret), signHeader)
	if !ok || !hmac.Equal([]byte(want), []byte(strings.ToLower(headerValue(r, axis.HeaderHash)))) {
		return System{}, nil, fail("401", "%s does not match the HMAC of %s under the secret of system %q (or no such system)",
			axis.HeaderHash, axis.HeaderSign, hdr["systemid"])
	}
	keys := strings.Split(headerValue(r, axis.HeaderSignKey), ";")
	if len(keys) != len(fields) {
		return System{}, nil, fail("401", "%s names %d fields, %s holds %d", axis.HeaderSignKey, len(keys), axis.HeaderSign, len(fields))
	}
	for _, k := range keys {
		if _, ok := hdr[k]; !ok {
			return System{}, nil, fail("401", "%s names %q, which is not signed", axis.HeaderSignKey, k)
		}
	}
	if h.opts.Window > 0 {
		// Replay protection, off by default: the SDK stamps a service
		// object once, in the JVM's zone, and integrators keep the object.
		ts, err := axis.ParseTimestamp(hdr["timestamp"])
		if err != nil {
			return System{}, nil, fail("401", "%v", err)
		}
		if d := h.opts.Now().Sub(ts); d > h.opts.Window || d < -h.opts.Window {
			return System{}, nil, fail("401", "timestamp %s is %s away from the hub's clock; the window is %s", hdr["timestamp"], d.Round(time.Second), h.opts.Window)
		}
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
	ok := &axis.Answer{Status: "OK", ErrorCode: "0", ErrorDesc: "Thanh cong"}
	switch op {
	case "sendEdoc":
		id, err := h.sendOnce(r, sys, hdr, f)
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
		src, err := h.fetch(sys, hdr["docId"])
		if err != nil {
			return nil, err
		}
		defer src.Close()
		// The package goes out base64 inside the JSON as it is read from
		// its file, never whole in memory.
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		io.WriteString(w, `{"status":"OK","ErrorCode":"0","ErrorDesc":"Thanh cong","data":"`)
		enc := base64.NewEncoder(base64.StdEncoding, w)
		io.Copy(enc, src)
		enc.Close()
		io.WriteString(w, `"}`)
		return nil, nil
	case "downloadEdoc":
		src, err := h.fetch(sys, hdr["docId"])
		if err != nil {
			return nil, err
		}
		defer src.Close()
		w.Header().Set("Content-Type", "application/octet-stream")
		io.Copy(w, src)
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
		return ok, h.register(r, sys)
	case "deleteAgency":
		if err := mayChange(sys, hdr["AgencyCode"], ""); err != nil {
			return nil, err
		}
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

func (h *Hub) send(r *http.Request, sys System, hdr map[string]string, f Faults) (string, error) {
	from := hdr["from"]
	if !slices.Contains(sys.Codes, from) {
		return "", fail("403", "Don vi gui %s khong dung voi ma da dang ky: %s", from, sys.SystemID)
	}
	mt := strings.ToLower(hdr["messagetype"])
	if mt != axis.MessageEdoc && mt != axis.MessageStatus {
		return "", fail("400", "messagetype %q: want edoc or status", hdr["messagetype"])
	}
	up, err := h.readUpload(r, hdr["hash-file"], false, f)
	if err != nil {
		return "", err
	}
	defer up.discard() // a file is gone by then when stored
	// Routed by the header alone: the hub never reads the attachments.
	pkg, err := up.peek()
	if err != nil {
		return "", fail("400", "the upload is not an edXML package: %v", err)
	}
	var to []string
	if t := hdr["to"]; t != "" {
		if err := json.Unmarshal([]byte(t), &to); err != nil {
			return "", fail("400", "to %q is not a JSON array of codes", t)
		}
	}
	return h.store(from, mt, to, pkg, up, "404")
}

// store keeps an upload for its recipients, to unless empty, else those
// its header names; unknown answers an unknown recipient's refusal.
func (h *Hub) store(from, mt string, to []string, pkg *envelope.Header, up *upload, unknown string) (string, error) {
	d := &doc{DocID: newID(h.opts.Now()), From: from, MessageType: mt, Created: h.opts.Now(), Size: int(up.size), Recipients: map[string]*recipient{}}
	switch pkg.Kind {
	case envelope.KindStatus:
		if len(to) == 0 {
			to = []string{pkg.ResponseFor.OrganID}
		}
		d.Notation = pkg.ResponseFor.Code
		d.Title = "Status " + string(pkg.StatusCode)
	default:
		if len(to) == 0 {
			to = pkg.To
		}
		d.Title = pkg.Subject
		d.Notation = pkg.Code
	}
	if len(to) == 0 {
		return "", fail("400", "the package names no recipient")
	}
	if err := h.place(d.DocID, up); err != nil {
		return "", err
	}
	err := h.update(func(tx *bolt.Tx) error {
		ab := tx.Bucket(bAgencies)
		for _, code := range to {
			var a axis.Agency
			if v := ab.Get([]byte(code)); v == nil || json.Unmarshal(v, &a) != nil || a.Deleted {
				return fail(unknown, "unknown recipient %s", code)
			}
			d.Recipients[code] = &recipient{Status: "pending", Updated: d.Created}
			if err := tx.Bucket(bPending).Put(pendingKey(code, d.DocID), []byte(mt)); err != nil {
				return err
			}
		}
		if up.path == "" {
			if err := tx.Bucket(bBlobs).Put([]byte(d.DocID), up.data); err != nil {
				return err
			}
		}
		return putDoc(tx, d)
	})
	if err != nil {
		os.Remove(filepath.Join(h.blobs, d.DocID))
	}
	return d.DocID, err
}

// smallPackage is the size up to which a package is read into memory and
// kept inside the store, committed with its record, rather than written
// to a file of its own: a status package then costs the one commit and no
// file at all.
const smallPackage = 64 << 10

// upload is a package as received: in memory when small, else in a file.
type upload struct {
	data []byte
	path string
	size int64
}

// spill writes a package too large for memory to a file: the head read
// so far, then the rest, hashed on the way.
func (u *upload) spill(dir string, head []byte, rest io.Reader, hw io.Writer) error {
	out, err := os.CreateTemp(dir, ".upload-")
	if err != nil {
		return err
	}
	u.path, u.data = out.Name(), nil
	_, err = out.Write(head)
	if err == nil {
		var n int64
		n, err = io.Copy(io.MultiWriter(out, hw), rest)
		u.size += n
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		u.discard()
		return fail("400", "reading the package: %v", err)
	}
	return nil
}

func (u *upload) discard() {
	if u.path != "" {
		os.Remove(u.path)
	}
}

func (u *upload) peek() (*envelope.Header, error) {
	if u.path == "" {
		return envelope.PeekHeader(bytes.NewReader(u.data))
	}
	f, err := os.Open(u.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return envelope.PeekHeader(bufio.NewReader(f))
}

// place makes a package spilled to a file durable under its final name,
// before the record that names it is written: outside the commit, which
// other writers share, so a large file's sync holds up none of them.
func (h *Hub) place(id string, up *upload) error {
	if up.path == "" {
		return nil // kept inside the store, with its record
	}
	f, err := os.Open(up.path)
	if err != nil {
		return err
	}
	err = f.Sync()
	f.Close()
	if err != nil {
		return err
	}
	if err := os.Rename(up.path, filepath.Join(h.blobs, id)); err != nil {
		return err
	}
	h.flushes.Add(2) // the file, then its folder
	return atomicfile.SyncDir(h.blobs)
}

// readUpload reads sendEdoc's package, in the SDK's form (the raw file
// and a CRLF, which hash-file does not cover) or, from older clients, as
// the multipart part file_doc: into memory up to smallPackage (and the
// CRLF), else into a file beside the blobs; it checks hash-file as the
// bytes arrive. The REST dialect's upload (rest) is any file part, with
// no hash to check.
func (h *Hub) readUpload(r *http.Request, hashFile string, rest bool, f Faults) (up *upload, err error) {
	limit := h.opts.MaxPackage
	src := r.Body
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
		mr, err := r.MultipartReader()
		if err != nil {
			return nil, fail("400", "multipart body: %v", err)
		}
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				return nil, fail("400", "no %s part in the upload", axis.FilePart)
			}
			if err != nil {
				return nil, fail("400", "multipart body: %v", err)
			}
			if p.FormName() == axis.FilePart || (rest && p.FileName() != "") {
				src = p
				break
			}
		}
	}
	var in io.Reader = src
	if f.SlowRead > 0 {
		in = &slowReader{r: src, rate: f.SlowRead}
	}
	in = io.LimitReader(in, limit+3)
	// The last two bytes are held back from the hash: they may be the
	// SDK's CRLF, which hash-file does not cover.
	hw := &holdBack{h: sha256.New()}
	head := make([]byte, smallPackage+3)
	n, err := io.ReadFull(in, head)
	hw.Write(head[:n])
	up = &upload{data: head[:n], size: int64(n)}
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		// All of it is in memory.
	case err != nil:
		return nil, fail("400", "reading the package: %v", err)
	default:
		if err := up.spill(h.blobs, head[:n], in, hw); err != nil {
			return nil, err
		}
	}
	kept := up
	defer func() {
		if err != nil {
			kept.discard()
		}
	}()
	without := hw.h.Sum(nil)
	hw.h.Write(hw.tail)
	with := hw.h.Sum(nil)
	got := strings.ToLower(hashFile)
	matches := func(b []byte) bool {
		sum := [32]byte(b)
		return got == axis.HashFile(sum, false) || got == axis.HashFile(sum, true)
	}
	switch {
	case rest:
	case string(hw.tail) == "\r\n" && matches(without):
		up.size -= 2
		if up.path == "" {
			up.data = up.data[:up.size]
		} else if err := os.Truncate(up.path, up.size); err != nil {
			return nil, err
		}
	case !matches(with):
		return nil, fail("400", "hash-file %q does not match the SHA-256 of the uploaded file", hashFile)
	}
	if up.size == 0 {
		return nil, fail("400", "the upload holds no package")
	}
	if up.size > limit {
		return nil, fail("413", "package over %d bytes", limit)
	}
	return up, nil
}

// holdBack hashes what is written but its last two bytes.
type holdBack struct {
	h    hash.Hash
	tail []byte
}

func (b *holdBack) Write(p []byte) (int, error) {
	if len(b.tail)+len(p) <= 2 {
		b.tail = append(b.tail, p...)
		return len(p), nil
	}
	if len(p) < 2 {
		all := append(b.tail, p...)
		b.h.Write(all[:len(all)-2])
		b.tail = append(b.tail[:0:0], all[len(all)-2:]...)
		return len(p), nil
	}
	b.h.Write(b.tail)
	b.h.Write(p[:len(p)-2])
	b.tail = append(b.tail[:0], p[len(p)-2:]...)
	return len(p), nil
}

// replay is a sendEdoc taken under one signature.
type replay struct {
	at   time.Time
	done chan struct{} // closed when the first call ended
	id   string        // the DocId it stored; "" when it failed
}

// sendOnce stores a package once per signature: the same signed call
// again, a replay or a retry after a lost answer, gets the DocId the first
// stored, and stores nothing. The signature covers the package's hash,
// the sender and the timestamp, so a new package is always a new call.
func (h *Hub) sendOnce(r *http.Request, sys System, hdr map[string]string, f Faults) (string, error) {
	key := strings.ToLower(headerValue(r, axis.HeaderHash))
	for {
		now := h.opts.Now()
		h.mu.Lock()
		h.forget(now)
		rp, seen := h.seen[key]
		if !seen {
			rp = &replay{at: now, done: make(chan struct{})}
			h.seen[key] = rp
			h.order = append(h.order, key)
		}
		h.mu.Unlock()
		if !seen {
			id, err := h.send(r, sys, hdr, f)
			h.mu.Lock()
			if rp.id = id; err != nil || id == "" {
				delete(h.seen, key)
			}
			h.mu.Unlock()
			close(rp.done)
			return id, err
		}
		select {
		case <-rp.done:
		case <-r.Context().Done():
			return "", r.Context().Err()
		}
		h.mu.Lock()
		id := rp.id
		h.mu.Unlock()
		if id != "" {
			return id, nil
		}
	}
}

// forget drops the signatures older than the replay memory, and the
// oldest beyond a million; h.mu is held.
func (h *Hub) forget(now time.Time) {
	const most = 1 << 20
	for len(h.order) > 0 {
		k := h.order[0]
		if rp, ok := h.seen[k]; ok {
			if now.Sub(rp.at) < h.opts.ReplayMemory && len(h.order) <= most {
				return
			}
			select {
			case <-rp.done:
				delete(h.seen, k)
			default:
				return // still being stored
			}
		}
		h.order = h.order[1:]
	}
}

// mayChange says whether sys may register or delete an agency: the hub's
// operator any, another system only units under its own codes, placed
// under its own codes, so no system rewrites another's place in the
// directory.
func mayChange(sys System, code, parent string) error {
	if sys.Operator {
		return nil
	}
	ours := func(c string, self bool) bool {
		cc, err := directory.ParseCode(c)
		return err == nil && slices.ContainsFunc(sys.Codes, func(own string) bool {
			return (self || own != c) && cc.Under(directory.Code(own))
		})
	}
	for _, c := range []struct {
		code string
		self bool
	}{{code, false}, {parent, true}} {
		if c.code != "" && !ours(c.code, c.self) {
			return fail("403", "system %s may register or delete only units under its own agencies (%s), not %s",
				sys.SystemID, strings.Join(sys.Codes, ", "), c.code)
		}
	}
	return nil
}
