package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"lienthong/gateway/localapi"
)

// The commands in this file talk to a running lienthongd through its local
// API, as the legacy system does. They read the API address and token from
// flags or from $LIENTHONG_API and $LIENTHONG_TOKEN (what dev.env sets).

type apiFlags struct {
	url, tokenFile *string
}

func addAPIFlags(fs *flagSet) apiFlags {
	return apiFlags{
		url:       fs.String("api", os.Getenv("LIENTHONG_API"), "local API base URL (default $LIENTHONG_API)"),
		tokenFile: fs.String("token-file", "", "file holding the bearer token (without it, the token in $LIENTHONG_TOKEN)"),
	}
}

func (a apiFlags) client() (*localapi.Client, error) {
	if *a.url == "" {
		return nil, errors.New("no local API: give --api URL or set LIENTHONG_API (lienthongd -dev writes it to dev.env)")
	}
	tok := os.Getenv("LIENTHONG_TOKEN")
	if *a.tokenFile != "" {
		b, err := os.ReadFile(*a.tokenFile)
		if err != nil {
			return nil, err
		}
		tok = strings.TrimSpace(string(b))
	}
	if tok == "" {
		return nil, errors.New("no token: give --token-file FILE or set LIENTHONG_TOKEN")
	}
	return &localapi.Client{Base: *a.url, Token: tok}, nil
}

// answer prints a call's result as JSON, or its refusal.
func answer(e *env, v any, err error) error {
	if err != nil {
		return apiError(e, err)
	}
	return printJSON(e, v)
}

func printJSON(e *env, v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// apiError prints an API refusal with each broken rule on its own line.
func apiError(e *env, err error) error {
	var ae *localapi.Error
	if !errors.As(err, &ae) {
		return err
	}
	fmt.Fprintf(e.stderr, "lienthong: %d %s\n", ae.Status, ae.Message)
	for _, p := range ae.Problems {
		fmt.Fprintf(e.stderr, "  %s: %s", p.Field, p.Rule)
		if p.Value != "" {
			fmt.Fprintf(e.stderr, " (%q)", p.Value)
		}
		fmt.Fprintln(e.stderr)
	}
	return errReported
}

const sendUsage = `Usage:
  lienthong send --metadata FILE [FILE...]

Hands a document to the running gateway: the metadata JSON (the same shape
as "envelope build", see docs/metadata.md) and its files, in the order its
attachments list them. Prints {"id","documentId"}; the gateway signs and
sends it, and "lienthong status ID" follows it.

Example:
  $ lienthong send --metadata docs/examples/cong-van.json docs/examples/cong-van-152.pdf
`

func runSend(e *env, args []string) error {
	fs := newFlags(e, "send", sendUsage)
	api := addAPIFlags(fs)
	metaFile := fs.String("metadata", "", "document metadata JSON (required)")
	if err := parseFlags(e, fs, args); err != nil {
		return err
	}
	if *metaFile == "" {
		fs.Usage()
		return errUsage
	}
	c, err := api.client()
	if err != nil {
		return err
	}
	raw, err := os.ReadFile(*metaFile)
	if err != nil {
		return err
	}
	var meta map[string]any
	if err := json.Unmarshal(raw, &meta); err != nil {
		return fmt.Errorf("%s: %w", *metaFile, err)
	}
	delete(meta, "from") // the gateway sends as its own agency
	var files []localapi.Upload
	for _, f := range fs.Args() {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		files = append(files, localapi.Upload{Name: filepath.Base(f), Data: data})
	}
	acc, err := c.Submit(e.ctx, meta, files)
	return answer(e, acc, err)
}

const statusUsage = `Usage:
  lienthong status ID

Shows an outbound document: its state (accepted, sending, retry, sent,
dead), attempts, last error and each recipient's status code.

Example:
  $ lienthong status out-0000000001
`

func runStatus(e *env, args []string) error {
	fs := newFlags(e, "status", statusUsage)
	api := addAPIFlags(fs)
	if err := parseFlags(e, fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	c, err := api.client()
	if err != nil {
		return err
	}
	d, err := c.Document(e.ctx, fs.Arg(0))
	return answer(e, d, err)
}

const outboxUsage = `Usage:
  lienthong outbox [--state STATE]
  lienthong outbox resend ID
  lienthong outbox recall [--reason TEXT] ID
  lienthong outbox revoke [--reason TEXT] ID

Lists outbound documents (STATE: accepted, sending, retry, sent, dead),
puts a dead one back in the queue, asks the recipients of a sent one to
give it back (status 13), or withdraws it with a revocation package
(business type 1). Recipients answer 15 (agreed) or 16 (refused), shown
per recipient on the document.

Example:
  $ lienthong outbox --state dead
  $ lienthong outbox resend out-0000000007
`

func runOutbox(e *env, args []string) error {
	fs := newFlags(e, "outbox", outboxUsage)
	api := addAPIFlags(fs)
	state := fs.String("state", "", "only documents in this state")
	reason := fs.String("reason", "", "with recall or revoke: why")
	if err := parseFlags(e, fs, args); err != nil {
		return err
	}
	c, err := api.client()
	if err != nil {
		return err
	}
	var v any
	switch {
	case fs.NArg() == 0:
		v, err = c.Documents(e.ctx, *state, 0)
	case fs.NArg() == 2 && fs.Arg(0) == "resend":
		v, err = c.Resend(e.ctx, fs.Arg(1))
	case fs.NArg() == 2 && fs.Arg(0) == "recall":
		v, err = c.Recall(e.ctx, fs.Arg(1), *reason)
	case fs.NArg() == 2 && fs.Arg(0) == "revoke":
		v, err = c.Revoke(e.ctx, fs.Arg(1), *reason)
	default:
		fs.Usage()
		return errUsage
	}
	return answer(e, v, err)
}

const inboxUsage = `Usage:
  lienthong inbox [--state STATE] [--wait 30s]
  lienthong inbox show ID
  lienthong inbox get ID N [-o FILE]
  lienthong inbox answer [--description TEXT] [--staff NAME] ID CODE

Lists received documents (STATE: new, answered, recall, quarantined; --wait
holds an empty answer until one arrives), shows one, saves its Nth file, or
answers it: 02 refuse, 03 registered, 04 assigned, 05 processing, 06 done,
15/16 agree to or refuse a recall.

Example:
  $ lienthong inbox --state new
  $ lienthong inbox get in-0000000001 1 -o cong-van.pdf
  $ lienthong inbox answer --staff "Văn thư" in-0000000001 03
`

func runInbox(e *env, args []string) error {
	fs := newFlags(e, "inbox", inboxUsage)
	api := addAPIFlags(fs)
	state := fs.String("state", "", "only items in this state")
	wait := fs.Duration("wait", 0, "hold an empty list up to this long")
	out := fs.String("o", "", "with get: write the file here instead of stdout")
	desc := fs.String("description", "", "with answer: the status text")
	staff := fs.String("staff", "", "with answer: who answers")
	if err := parseFlags(e, fs, args); err != nil {
		return err
	}
	c, err := api.client()
	if err != nil {
		return err
	}
	var v any
	switch {
	case fs.NArg() == 0:
		v, err = c.Inbox(e.ctx, *state, *wait)
	case fs.NArg() == 2 && fs.Arg(0) == "show":
		v, err = c.InboxItem(e.ctx, fs.Arg(1))
	case fs.NArg() == 3 && fs.Arg(0) == "get":
		return inboxGet(e, c, fs.Arg(1), fs.Arg(2), *out)
	case fs.NArg() == 3 && fs.Arg(0) == "answer":
		v, err = c.Answer(e.ctx, fs.Arg(1), localapi.StatusRequest{Code: fs.Arg(2), Description: *desc, Staff: *staff})
	default:
		fs.Usage()
		return errUsage
	}
	return answer(e, v, err)
}

func inboxGet(e *env, c *localapi.Client, id, nth, out string) error {
	n, err := strconv.Atoi(nth)
	if err != nil {
		return fmt.Errorf("file number %q: want 1, 2, …", nth)
	}
	var w io.Writer = e.stdout
	var f *os.File
	if out != "" {
		if f, err = os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640); err != nil {
			return err
		}
		w = f
	}
	total := int64(0)
	if it, err := c.InboxItem(e.ctx, id); err == nil && n >= 1 && n <= len(it.Files) {
		total = it.Files[n-1].Size
	}
	m := newByteMeter(e, w, "inbox get "+id+" "+nth, total)
	err = c.InboxFileTo(e.ctx, id, n, m)
	m.done()
	if f != nil {
		err = errors.Join(err, f.Close())
	}
	if err != nil {
		if f != nil {
			os.Remove(out)
		}
		return apiError(e, err)
	}
	return nil
}

// dirFromAPI serves dir search and lookup from the running gateway's
// synced directory.
func dirFromAPI(e *env, api apiFlags, lookup string, words []string, limit int) error {
	c, err := api.client()
	if err != nil {
		return err
	}
	if lookup != "" {
		a, err := c.Agency(e.ctx, lookup)
		if err != nil {
			return apiError(e, err)
		}
		return json.NewEncoder(e.stdout).Encode(a)
	}
	as, err := c.Search(e.ctx, strings.Join(words, " "))
	if err != nil {
		return apiError(e, err)
	}
	for i, a := range as {
		if i == limit {
			break
		}
		if err := json.NewEncoder(e.stdout).Encode(a); err != nil {
			return err
		}
	}
	return nil
}

const agenciesUsage = `Usage:
  lienthong agencies

Lists the agencies the running gateway serves that your token covers:
each one's signing key (own, shared or none), certificate expiry and the
documents it has waiting. A city's or ministry's gateway serves many; the
per-agency figures live here rather than in Prometheus labels.

Example:
  $ lienthong agencies
`

func runAgencies(e *env, args []string) error {
	fs := newFlags(e, "agencies", agenciesUsage)
	api := addAPIFlags(fs)
	if err := parseFlags(e, fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return errUsage
	}
	c, err := api.client()
	if err != nil {
		return err
	}
	list, err := c.Agencies(e.ctx)
	return answer(e, list, err)
}
