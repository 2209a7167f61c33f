package axishub

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"lienthong/directory"
	"lienthong/envelope"
	"lienthong/gateway/axis"
)

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
	Acks    int       `json:"acks,omitempty"` // times it was answered done
}

// Package is what the hub holds of one upload: what a test of a whole
// exchange checks crossed the axis, how often, and in what order.
type Package struct {
	DocID       string
	From        string
	MessageType string
	Title       string
	Notation    string
	Created     time.Time
	// Acks counts, by recipient, the times it answered the package done.
	Acks map[string]int
}

// Packages lists every package the hub holds, oldest first.
func (h *Hub) Packages() ([]Package, error) {
	var out []Package
	err := h.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bDocs).ForEach(func(_, v []byte) error {
			var d doc
			if err := json.Unmarshal(v, &d); err != nil {
				return err
			}
			p := Package{DocID: d.DocID, From: d.From, MessageType: d.MessageType, Title: d.Title, Notation: d.Notation, Created: d.Created, Acks: map[string]int{}}
			for code, rc := range d.Recipients {
				p.Acks[code] = rc.Acks
			}
			out = append(out, p)
			return nil
		})
	})
	slices.SortStableFunc(out, func(a, b Package) int { return a.Created.Compare(b.Created) })
	return out, err
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

// errNoDoc is a DocId the hub does not hold.
var errNoDoc = errors.New("no such document")

func getDoc(tx *bolt.Tx, id string) (*doc, error) {
	v := tx.Bucket(bDocs).Get([]byte(id))
	if v == nil {
		return nil, errNoDoc
	}
	var d doc
	return &d, json.Unmarshal(v, &d)
}

// noDocument answers for a DocId a system may not see exactly as for one
// that does not exist, so that no system learns which DocIds others hold.
func noDocument(id string, sys System) error {
	return fail("404", "no document %q for %s", id, sys.SystemID)
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

// fetch opens a package for one of its recipients: a small one from the
// blobs bucket, a larger one from its file.
func (h *Hub) fetch(sys System, id string) (io.ReadCloser, error) {
	var small []byte
	err := h.db.View(func(tx *bolt.Tx) error {
		d, err := getDoc(tx, id)
		if errors.Is(err, errNoDoc) || (err == nil && !slices.ContainsFunc(sys.Codes, func(c string) bool { return d.Recipients[c] != nil })) {
			return noDocument(id, sys)
		}
		if err != nil {
			return err
		}
		small = bytes.Clone(tx.Bucket(bBlobs).Get([]byte(id)))
		return nil
	})
	if err != nil {
		return nil, err
	}
	if small != nil {
		return io.NopCloser(bytes.NewReader(small)), nil
	}
	return os.Open(filepath.Join(h.blobs, id))
}

func (h *Hub) updateStatus(sys System, id, status string, duplicate bool) error {
	if status != axis.StatusDone && status != axis.StatusFail && status != "processing" {
		return fail("400", "status %q: want done, fail or processing", status)
	}
	return h.update(func(tx *bolt.Tx) error {
		d, err := getDoc(tx, id)
		if errors.Is(err, errNoDoc) {
			return noDocument(id, sys)
		}
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
				rc.Acks++
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
			return noDocument(id, sys)
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

func (h *Hub) register(r *http.Request, sys System) error {
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
	if err := mayChange(sys, reg.Code, reg.Parent); err != nil {
		return err
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
	return h.update(func(tx *bolt.Tx) error {
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
