package envelope

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"mime"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// ContentTypeZip is the type VNPT and Bkav libraries give every attachment,
// because they zip each file before base64.
const ContentTypeZip = "application/zip"

// zipTime is the fixed modification time written into zipped attachments so
// that the same input always builds the same bytes.
var zipTime = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// IsZipped reports whether the attachment is a file the sender zipped for
// transport, as opposed to a zip archive sent as itself.
func (a *Attachment) IsZipped() bool {
	if !strings.EqualFold(a.ContentType, ContentTypeZip) || strings.EqualFold(path.Ext(a.Name), ".zip") {
		return false
	}
	r, err := a.Open()
	if err != nil {
		return false
	}
	defer r.Close()
	head := make([]byte, 4)
	_, err = io.ReadFull(r, head)
	return err == nil && string(head) == "PK\x03\x04"
}

// MaxZipRatio bounds how much larger than its zip a zipped attachment may
// expand: documents and scans compress far less, zip bombs far more.
const MaxZipRatio = 200

// Unzip returns the single file inside a zipped attachment, as UnzipTo
// reads it.
func (a *Attachment) Unzip(max int64) (name string, data []byte, err error) {
	var b bytes.Buffer
	name, _, err = a.UnzipTo(&b, max)
	return name, b.Bytes(), err
}

// UnzipTo writes the single file inside a zipped attachment to w,
// refusing more than max bytes uncompressed, or MaxZipRatio times the zip,
// so a zip bomb cannot exhaust memory or disk; any other zip (more files,
// damage) is an error. On error w may hold part of the file.
func (a *Attachment) UnzipTo(w io.Writer, max int64) (name string, n int64, err error) {
	var src io.ReaderAt = bytes.NewReader(a.Data)
	size := int64(len(a.Data))
	if a.Path != "" {
		f, err := os.Open(a.Path)
		if err != nil {
			return "", 0, err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return "", 0, err
		}
		src, size = f, fi.Size()
	}
	if byRatio := size * MaxZipRatio; byRatio < max {
		max = byRatio
	}
	zr, err := zip.NewReader(src, size)
	if err != nil {
		return "", 0, err
	}
	var files []*zip.File
	for _, f := range zr.File {
		if !f.FileInfo().IsDir() {
			files = append(files, f)
		}
	}
	if len(files) != 1 {
		return "", 0, fmt.Errorf("holds %d files, want 1", len(files))
	}
	f := files[0]
	if f.UncompressedSize64 > uint64(max) || f.CompressedSize64 > uint64(size) {
		return "", 0, &LimitError{What: "unzipped size in bytes", Limit: max}
	}
	rc, err := f.Open()
	if err != nil {
		return "", 0, err
	}
	defer rc.Close()
	n, err = io.Copy(w, io.LimitReader(rc, max+1))
	if err != nil {
		return "", n, err
	}
	if n > max {
		return "", n, &LimitError{What: "unzipped size in bytes", Limit: max}
	}
	return f.Name, n, nil
}

// unzipInPlace replaces a zipped attachment by its file, typed from the
// attachment's name; one held in a file is unzipped beside it.
func (a *Attachment) unzipInPlace(max int64) error {
	if !a.IsZipped() {
		return nil
	}
	if a.Path == "" {
		_, data, err := a.Unzip(max)
		if err != nil {
			return err
		}
		a.Data = data
	} else {
		f, err := os.CreateTemp(filepath.Dir(a.Path), "unzipped-*")
		if err != nil {
			return err
		}
		_, _, err = a.UnzipTo(f, max)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(f.Name())
			return err
		}
		os.Remove(a.Path)
		a.Path, a.size, a.sum = f.Name(), 0, nil
	}
	a.ContentType = ContentTypeOf(a.Name)
	return nil
}

// zipped returns the attachment as VNPT-style peers expect it: the file as
// the single entry of a zip, typed application/zip.
func (a Attachment) zipped() (Attachment, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: a.Name, Method: zip.Deflate, Modified: zipTime})
	if err != nil {
		return a, err
	}
	r, err := a.Open()
	if err != nil {
		return a, err
	}
	_, err = io.Copy(w, r)
	r.Close()
	if err != nil {
		return a, err
	}
	if err := zw.Close(); err != nil {
		return a, err
	}
	a.Data, a.Path = buf.Bytes(), ""
	a.ContentType = ContentTypeZip
	return a, nil
}

// ContentTypeOf guesses a MIME type from a file name, for files that
// arrive zipped or without their own type.
func ContentTypeOf(name string) string {
	ext := strings.ToLower(path.Ext(name))
	switch ext {
	case ".pdf":
		return "application/pdf"
	case ".doc":
		return "application/msword"
	case ".docx":
		return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	case ".xls":
		return "application/vnd.ms-excel"
	case ".xlsx":
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	}
	if t := mime.TypeByExtension(ext); t != "" {
		if mt, _, err := mime.ParseMediaType(t); err == nil {
			return mt
		}
	}
	return "application/octet-stream"
}

// Open reads the attachment's content, from Data or from the file Path
// names.
func (a *Attachment) Open() (io.ReadCloser, error) {
	if a.Path != "" {
		return os.Open(a.Path)
	}
	return io.NopCloser(bytes.NewReader(a.Data)), nil
}

// Size is the content's length in bytes; -1 when its file is unreadable.
func (a *Attachment) Size() int64 {
	if a.Path == "" {
		return int64(len(a.Data))
	}
	fi, err := os.Stat(a.Path)
	if err != nil {
		return -1
	}
	return fi.Size()
}
