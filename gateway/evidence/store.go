package evidence

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"lienthong/queue"
)

// StorePackages reads the packages a store holds by record, for bundles.
func StorePackages(s queue.Store) OpenPackage {
	return func(ctx context.Context, record string) (io.ReadCloser, error) {
		r, err := queue.Get(ctx, s, record)
		if err != nil {
			return nil, err // not found: purged
		}
		rc, err := s.OpenPayload(ctx, r)
		if errors.Is(err, queue.ErrNotFound) {
			return nil, fmt.Errorf("record %s holds no package: %v", record, err)
		}
		return rc, err
	}
}

// StoreSums hashes the packages a store holds, for Verify.
func StoreSums(s queue.Store) PackageSum {
	open := StorePackages(s)
	return func(ctx context.Context, record string) (string, error) {
		rc, err := open(ctx, record)
		if err != nil {
			return "", err
		}
		defer rc.Close()
		h := sha256.New()
		if _, err := io.Copy(h, rc); err != nil {
			return "", err
		}
		return hex.EncodeToString(h.Sum(nil)), nil
	}
}
