package envelope

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"mime"
	"os"
	"path"
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
	return strings.EqualFold(a.ContentType, ContentTypeZip) &&
		!strings.EqualFold(path.Ext(a.Name), ".zip") &&
		bytes.HasPrefix(a.Data, []byte("PK\x03\x04"))
}

// MaxZipRatio bounds how much larger than its zip a zipped attachment may
// expand: documents and scans compress far less, zip bombs far more.
const MaxZipRatio = 200

// Unzip returns the single file inside a zipped attachment, refusing more
// than max bytes uncompressed, or MaxZipRatio times the zip, so a zip bomb
// cannot exhaust memory; any other zip (more files, damage) is an error.
func (a *Attachment) Unzip(max int64) (name string, data []byte, err error) {
	if byRatio := int64(len(a.Data)) * MaxZipRatio; byRatio < max {
		max = byRatio
	}
	zr, err := zip.NewReader(bytes.NewReader(a.Data), int64(len(a.Data)))
	if err != nil {
		return "", nil, err
	}
	var files []*zip.File
	for _, f := range zr.File {
		if !f.FileInfo().IsDir() {
			files = append(files, f)
		}
	}
	if len(files) != 1 {
		return "", nil, fmt.Errorf("holds %d files, want 1", len(files))
	}
	f := files[0]
	if f.UncompressedSize64 > uint64(max) || f.CompressedSize64 > uint64(len(a.Data)) {
		return "", nil, &LimitError{What: "unzipped size in bytes", Limit: max}
	}
	rc, err := f.Open()
	if err != nil {
		return "", nil, err
	}
	defer rc.Close()
	data, err = io.ReadAll(io.LimitReader(rc, max+1))
	if err != nil {
		return "", nil, err
	}
	if int64(len(data)) > max {
		return "", nil, &LimitError{What: "unzipped size in bytes", Limit: max}
	}
	return f.Name, data, nil
}

// unzipInPlace replaces a zipped attachment by its file, typed from the
// attachment's name.
func (a *Attachment) unzipInPlace(max int64) error {
	if !a.IsZipped() {
		return nil
	}
	_, data, err := a.Unzip(max)
	if err != nil {
		return err
	}
	a.Data = data
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
