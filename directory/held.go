package directory

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A directory synced from the axis is only as trustworthy as the least
// careful system allowed to change it. A change that deletes an agency
// we exchange with, or moves it under another parent, is therefore held
// for an operator instead of applied: a forged deletion would stop our
// documents to it, a forged parent would lend it another's name.

// Held is a change sync did not apply, waiting for an operator.
type Held struct {
	Entry  Entry     `json:"entry"`  // the change as the axis sent it
	Was    Entry     `json:"was"`    // the entry it would replace
	Reason string    `json:"reason"` // deleted, or the parent it moves to
	Since  time.Time `json:"since"`
}

var (
	bucketHeld     = []byte("held")
	bucketPartners = []byte("partners")
)

// NotePartner records an agency we exchange with, so that a deletion or
// re-parenting of it is held. It costs a map insert; the set is written
// at the next sync or at Close.
func (d *Directory) NotePartner(code string) {
	d.pmu.Lock()
	defer d.pmu.Unlock()
	if _, ok := d.partners[code]; !ok {
		d.partners[code] = false
	}
}

// partner reports whether code is an agency we exchange with.
func (d *Directory) partner(code string) bool {
	d.pmu.Lock()
	defer d.pmu.Unlock()
	_, ok := d.partners[code]
	return ok
}

// savePartners writes the partners noted since the last save.
func (d *Directory) savePartners(tx *bolt.Tx) error {
	d.pmu.Lock()
	defer d.pmu.Unlock()
	b := tx.Bucket(bucketPartners)
	for code, saved := range d.partners {
		if !saved {
			if err := b.Put([]byte(code), []byte{1}); err != nil {
				return err
			}
			d.partners[code] = true
		}
	}
	return nil
}

// hold splits changes into those to apply and those to hold: deletions
// and new parents of partners.
func (d *Directory) hold(changes []Entry, now time.Time) (apply []Entry, held []Held) {
	ix := d.ix.Load()
	for _, e := range changes {
		old, ok := ix.byCode[Code(e.Code)]
		if ok && !old.Deleted && d.partner(e.Code) {
			switch {
			case e.Deleted:
				held = append(held, Held{Entry: e, Was: *old, Reason: "deleted", Since: now})
				continue
			case e.Parent != old.Parent:
				held = append(held, Held{Entry: e, Was: *old, Reason: fmt.Sprintf("moved from parent %q to %q", old.Parent, e.Parent), Since: now})
				continue
			}
		}
		apply = append(apply, e)
	}
	return apply, held
}

// Held lists the changes waiting for an operator, by code.
func (d *Directory) Held() ([]Held, error) {
	var out []Held
	if d.db == nil {
		return nil, nil
	}
	err := d.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketHeld).ForEach(func(_, v []byte) error {
			var h Held
			if err := json.Unmarshal(v, &h); err != nil {
				return err
			}
			out = append(out, h)
			return nil
		})
	})
	return out, err
}

// Accept applies the held changes of the codes an operator confirmed and
// returns the codes applied.
func (d *Directory) Accept(codes []string, now time.Time) ([]string, error) {
	held, err := d.Held()
	if err != nil {
		return nil, err
	}
	var apply []Entry
	var done []string
	for _, h := range held {
		if slices.Contains(codes, h.Entry.Code) {
			apply = append(apply, h.Entry)
			done = append(done, h.Entry.Code)
		}
	}
	if len(apply) == 0 {
		return nil, nil
	}
	return done, d.apply(apply, nil, now, done)
}
