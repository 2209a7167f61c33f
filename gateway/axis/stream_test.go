package axis

import (
	"bytes"
	"encoding/base64"
	"io"
	"strings"
	"testing"
)

func TestReadDataAnswer(t *testing.T) {
	pkg := []byte("<edXML>??>>\xff\x00 package</edXML>")
	b64 := base64.StdEncoding.EncodeToString(pkg)
	escaped := strings.ReplaceAll(b64, "/", `\/`)
	tests := []struct {
		name, answer string
		want         []byte
		status       string
	}{
		{"data last", `{"status":"OK","ErrorCode":"0","ErrorDesc":"Thanh cong","data":"` + b64 + `"}`, pkg, "OK"},
		{"data first, spaces", ` { "data" : "` + b64 + `" , "status" : "OK", "ErrorCode": "0", "ErrorDesc": "Th\u00e0nh c\u00f4ng" } `, pkg, "OK"},
		{"escaped slashes", `{"status":"OK","data":"` + escaped + `","ErrorCode":"0"}`, pkg, "OK"},
		{"FAIL without data", `{"status":"FAIL","ErrorCode":"404","ErrorDesc":"not found","DocId":"","extra":{"a":[1,2,{"b":"}"}]}}`, nil, "FAIL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			a, n, err := readDataAnswer(strings.NewReader(tt.answer), &out)
			if err != nil {
				t.Fatalf("readDataAnswer: %v", err)
			}
			if a.Status != tt.status || !bytes.Equal(out.Bytes(), tt.want) || n != int64(len(tt.want)) {
				t.Errorf("status %q, %d bytes %q; want %q, %q", a.Status, n, out.Bytes(), tt.status, tt.want)
			}
		})
	}
	for _, bad := range []string{`{"status":"OK","data":"` + b64[:10], `{"data":"!!!"}`, `not json`, `{"status":"OK","data":"a\nb"}`} {
		if _, _, err := readDataAnswer(strings.NewReader(bad), &bytes.Buffer{}); err == nil {
			t.Errorf("readDataAnswer(%.30q) took a broken answer", bad)
		}
	}
}

// BenchmarkReadDataAnswer: getEdoc's 20 MiB answer decoded as it arrives.
func BenchmarkReadDataAnswer(b *testing.B) {
	pkg := bytes.Repeat([]byte("<edXML>gói tin</edXML>"), 20<<20/24)
	answer := []byte(`{"status":"OK","ErrorCode":"0","ErrorDesc":"Thanh cong","data":"` + base64.StdEncoding.EncodeToString(pkg) + `"}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(pkg)))
	for b.Loop() {
		if _, n, err := readDataAnswer(bytes.NewReader(answer), io.Discard); err != nil || n != int64(len(pkg)) {
			b.Fatal(n, err)
		}
	}
}

// BenchmarkReadDataNested: the REST dialect's getEdoc answer, the 20 MiB
// package in data.data, decoded as it arrives.
func BenchmarkReadDataNested(b *testing.B) {
	pkg := bytes.Repeat([]byte("<edXML>gói tin</edXML>"), 20<<20/24)
	answer := []byte(`{"code":0,"message":"OK","data":{"docId":"d1","data":"` + base64.StdEncoding.EncodeToString(pkg) + `"},"errorDetail":[]}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(pkg)))
	for b.Loop() {
		if _, n, err := readData(bytes.NewReader(answer), io.Discard, "data", "data"); err != nil || n != int64(len(pkg)) {
			b.Fatal(n, err)
		}
	}
}
