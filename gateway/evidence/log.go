package evidence

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"lienthong/queue"
)

// Log is the evidence log kept in a store's ledger.
type Log struct {
	led    queue.Ledger
	origin string
	signer note.Signer
	vkey   string
	now    func() time.Time
}

// New opens the log of a ledger, signing with the note signer key skey
// (as note.GenerateKey makes it); its name is the checkpoints' origin.
func New(led queue.Ledger, skey string, now func() time.Time) (*Log, error) {
	s, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("evidence key: %w", err)
	}
	vkey, err := VerifierKey(skey)
	if err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return &Log{led: led, origin: s.Name(), signer: s, vkey: vkey, now: now}, nil
}

// VerifierKey is the key that checks the log's checkpoints, in the
// name+hash+base64 form an agency publishes.
func (l *Log) VerifierKey() string { return l.vkey }

// Origin names the log in its checkpoints.
func (l *Log) Origin() string { return l.origin }

// batch bounds the lines one seal moves.
const batch = 1000

// Seal gives every pending line its number, with the tree's hashes, and
// reports how many.
func (l *Log) Seal(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := l.led.Seal(ctx, batch, Seal)
		total += n
		if err != nil || n < batch {
			return total, err
		}
	}
}

// Seal is the log's queue.SealFunc: it numbers lines from size on and
// makes the hashes stored with them, reading earlier ones from this batch
// or from the store.
func Seal(size int64, pending [][]byte, stored func([]int64) ([][32]byte, error)) ([][]byte, [][32]byte, error) {
	first := tlog.StoredHashIndex(0, size)
	var made []tlog.Hash
	read := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		var from []int64
		var at []int
		for i, x := range idx {
			if x >= first {
				if x-first >= int64(len(made)) {
					return nil, fmt.Errorf("%w: hash %d read before it was made", queue.ErrLogDamaged, x)
				}
				out[i] = made[x-first]
				continue
			}
			from, at = append(from, x), append(at, i)
		}
		if len(from) > 0 {
			hs, err := stored(from)
			if err != nil {
				return nil, err
			}
			for j, h := range hs {
				out[at[j]] = h
			}
		}
		return out, nil
	})
	entries := make([][]byte, len(pending))
	for i, p := range pending {
		e, err := numbered(p, size+int64(i))
		if err != nil {
			return nil, nil, err
		}
		hs, err := tlog.StoredHashes(size+int64(i), e, read)
		if err != nil {
			return nil, nil, err
		}
		entries[i] = e
		made = append(made, hs...)
	}
	out := make([][32]byte, len(made))
	for i, h := range made {
		out[i] = h
	}
	return entries, out, nil
}

// hashReader reads the store's hashes for tlog.
func (l *Log) hashReader(ctx context.Context) tlog.HashReader {
	return tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		hs, err := l.led.LogHashes(ctx, idx)
		if err != nil {
			return nil, err
		}
		out := make([]tlog.Hash, len(hs))
		for i, h := range hs {
			out[i] = h
		}
		return out, nil
	})
}

// Checkpoint signs the tree as sealed now, unless the last checkpoint
// already covers it, and returns the latest checkpoint.
func (l *Log) Checkpoint(ctx context.Context) (queue.Checkpoint, error) {
	size, _, err := l.led.LogSize(ctx)
	if err != nil {
		return queue.Checkpoint{}, err
	}
	last, ok, err := l.led.LastCheckpoint(ctx)
	if err != nil || (ok && last.Size >= size) || (!ok && size == 0) {
		return last, err
	}
	root, err := tlog.TreeHash(size, l.hashReader(ctx))
	if err != nil {
		return queue.Checkpoint{}, err
	}
	signed, err := note.Sign(&note.Note{Text: CheckpointText(l.origin, size, root)}, l.signer)
	if err != nil {
		return queue.Checkpoint{}, err
	}
	cp := queue.Checkpoint{Size: size, At: l.now().UTC(), Note: signed}
	if err := l.led.AddCheckpoint(ctx, cp); err != nil {
		return queue.Checkpoint{}, err
	}
	return cp, nil
}

// CheckpointText is a checkpoint's body in the C2SP tlog-checkpoint form:
// origin, tree size and root hash, one to a line.
func CheckpointText(origin string, size int64, root tlog.Hash) string {
	return fmt.Sprintf("%s\n%d\n%s\n", origin, size, base64.StdEncoding.EncodeToString(root[:]))
}

// Tree is a checkpoint's statement.
type Tree struct {
	Origin string
	Size   int64
	Root   tlog.Hash
}

// OpenCheckpoint checks a signed checkpoint against a verifier key and
// reads its tree.
func OpenCheckpoint(signed []byte, vkey string) (Tree, error) {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return Tree{}, fmt.Errorf("verifier key: %w", err)
	}
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		return Tree{}, fmt.Errorf("checkpoint not signed by %s: %w", v.Name(), err)
	}
	lines := strings.SplitN(n.Text, "\n", 4)
	if len(lines) < 4 {
		return Tree{}, errors.New("checkpoint: want origin, size and root hash lines")
	}
	t := Tree{Origin: lines[0]}
	if t.Origin != v.Name() {
		return Tree{}, fmt.Errorf("checkpoint of origin %q, signed by the key of %q", t.Origin, v.Name())
	}
	if t.Size, err = strconv.ParseInt(lines[1], 10, 64); err != nil || t.Size < 0 {
		return Tree{}, fmt.Errorf("checkpoint: tree size %q", lines[1])
	}
	h, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(h) != sha256.Size {
		return Tree{}, fmt.Errorf("checkpoint: root hash %q", lines[2])
	}
	copy(t.Root[:], h)
	return t, nil
}

// VerifierKey derives from a signer key the key that checks its
// signatures, for publishing.
func VerifierKey(skey string) (string, error) {
	// PRIVATE+KEY+name+hash+base64(alg || seed)
	parts := strings.SplitN(skey, "+", 5)
	if len(parts) != 5 || parts[0] != "PRIVATE" || parts[1] != "KEY" {
		return "", errors.New("evidence key: not a signer key (PRIVATE+KEY+name+hash+base64)")
	}
	raw, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(raw) != 33 || raw[0] != 1 {
		return "", errors.New("evidence key: not an Ed25519 signer key")
	}
	return note.NewEd25519VerifierKey(parts[2], ed25519Public(raw[1:]))
}
