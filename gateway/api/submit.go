package api

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"syscall"
	"time"

	"lienthong/envelope"
	"lienthong/gateway/localapi"
	"lienthong/gateway/netcap"
)

// maxFiles is how many attachments a document may carry, as readers cap.
const maxFiles = 256

func (s *server) postDocument(w http.ResponseWriter, r *http.Request) {
	if !s.uploads.Take() {
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("%d submissions are being read already (api.max_uploads): try again shortly", cap(s.uploads)), nil)
		return
	}
	defer s.uploads.Give()
	limit := int64(s.g.Config().Outbound.MaxDocument)
	r.Body = http.MaxBytesReader(w, netcap.Body(w, r.Body, 30*time.Second), limit+maxBody+1<<20)
	meta, files, err := s.readSubmission(r)
	defer removeFiles(files)
	if err != nil {
		fail(w, err)
		return
	}
	acc, err := s.g.Submit(callerOf(r), meta, files)
	if err != nil {
		fail(w, err)
		return
	}
	code := http.StatusAccepted
	if acc.Existing {
		code = http.StatusOK
	}
	writeJSON(w, code, acc)
}

// readSubmission reads the multipart form: one metadata part, checked
// before any file is read, then file parts in attachment order, each
// written to a file of its own as it arrives. The files are the caller's
// to remove, also on error.
func (s *server) readSubmission(r *http.Request) (_ *envelope.Metadata, files []envelope.Attachment, err error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return nil, files, envelope.Problems{{Path: "Content-Type", Rule: "must be multipart/form-data with a metadata part", Value: r.Header.Get("Content-Type")}}
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, files, envelope.Problems{{Path: "Content-Type", Rule: err.Error()}}
	}
	var meta *envelope.Metadata
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, files, bodyError(err)
		}
		switch p.FormName() {
		case "metadata":
			if meta != nil {
				return nil, files, envelope.Problems{{Path: "metadata", Rule: "must be sent once"}}
			}
			if meta, err = envelope.DecodeMetadata(io.LimitReader(p, maxBody)); err != nil {
				var ps envelope.Problems
				if errors.As(err, &ps) {
					return nil, files, ps
				}
				return nil, files, bodyError(err)
			}
			if err := s.g.Precheck(meta); err != nil {
				return nil, files, err
			}
		case "file":
			if len(files) == maxFiles {
				return nil, files, envelope.Problems{{Path: fmt.Sprintf("file[%d]", maxFiles), Rule: fmt.Sprintf("a document carries at most %d files", maxFiles)}}
			}
			name := p.FileName()
			if name == "" {
				return nil, files, envelope.Problems{{Path: fmt.Sprintf("file[%d]", len(files)), Rule: "needs a file name"}}
			}
			a := envelope.Attachment{Name: name, ContentType: p.Header.Get("Content-Type")}
			if a.Path, err = s.g.SpoolUpload(p); err != nil {
				if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
					return nil, files, fmt.Errorf("%w: disk full, free space in the state folder: %v", localapi.ErrUnavailable, err)
				}
				return nil, files, bodyError(err)
			}
			if a.ContentType == "application/octet-stream" {
				a.ContentType = ""
			}
			files = append(files, a)
		default:
			return nil, files, envelope.Problems{{Path: p.FormName(), Rule: "is not a known part (metadata, file)"}}
		}
	}
	if meta == nil {
		return nil, files, envelope.Problems{{Path: "metadata", Rule: "is required: a JSON part named metadata"}}
	}
	return meta, files, nil
}

func bodyError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return fmt.Errorf("%w: request over %d bytes", localapi.ErrTooLarge, mbe.Limit)
	}
	return envelope.Problems{{Path: "body", Rule: "is not a readable multipart body: " + err.Error()}}
}

// removeFiles removes the spooled files of a submission.
func removeFiles(files []envelope.Attachment) {
	for _, f := range files {
		if f.Path != "" {
			os.Remove(f.Path)
		}
	}
}
