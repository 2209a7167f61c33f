package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"lienthong/gateway/axis"
)

const axisUsage = `Usage:
  lienthong axis SUBCOMMAND --endpoint URL --system-id ID --secret-file FILE [flags] [args]

Talks to the axis adapter directly, for diagnostics without the daemon.
Lists print one JSON object per line. A failure says its class: retryable,
terminal, or ambiguous (a send that may have arrived: check "sent").

Subcommands:
%s
Example:
  lienthong axis send --endpoint http://127.0.0.1:8080/XrdAdapter/adapter \
      --system-id 00.53.W00 --secret-file secret --from 000.00.07.H26 cong-van.edxml
`

func runAxis(e *env, args []string) error {
	return dispatch(e, "lienthong axis", axisUsage, []command{
		{"send", "upload a package; prints the axis DocId", axisSend},
		{"list", "list packages waiting for us", axisList},
		{"get", "fetch a package to stdout or --out", axisGet},
		{"ack", "acknowledge a fetched package (done, or --fail)", axisAck},
		{"sent", "list what we sent, per recipient", axisSent},
		{"agencies", "print the axis's agency directory", axisAgencies},
	}, args)
}

// axisFlags are the connection flags every axis subcommand takes.
type axisFlags struct {
	endpoint, systemID, secretFile, caFile string
	padded                                 bool
}

func addAxisFlags(fs *flagSet) *axisFlags {
	f := &axisFlags{}
	fs.StringVar(&f.endpoint, "endpoint", "", "adapter base URL (required)")
	fs.StringVar(&f.systemID, "system-id", "", "our integration system id (required)")
	fs.StringVar(&f.secretFile, "secret-file", "", "file holding the shared HMAC secret (required)")
	fs.StringVar(&f.caFile, "ca", "", "PEM roots for the adapter's TLS certificate")
	fs.BoolVar(&f.padded, "padded-hash", false, "send hash-file as plain hex instead of the SDK's unpadded form")
	return f
}

func (f *axisFlags) client() (*axis.Client, error) {
	if f.endpoint == "" || f.systemID == "" || f.secretFile == "" {
		return nil, fmt.Errorf("--endpoint, --system-id and --secret-file are required")
	}
	secret, err := os.ReadFile(f.secretFile)
	if err != nil {
		return nil, err
	}
	return axis.New(axis.Config{
		Endpoint: f.endpoint, SystemID: f.systemID, CAFile: f.caFile, PaddedHashFile: f.padded,
		Secret: []byte(strings.TrimRight(string(secret), "\r\n")),
	})
}

func axisCommand(e *env, name, usage string, args []string, nargs int, extra func(fs *flagSet)) (*axis.Client, []string, error) {
	fs := newFlags(e, "axis "+name, usage)
	af := addAxisFlags(fs)
	if extra != nil {
		extra(fs)
	}
	if err := parseFlags(e, fs, args); err != nil {
		return nil, nil, err
	}
	if fs.NArg() != nargs {
		fs.Usage()
		return nil, nil, errUsage
	}
	c, err := af.client()
	if err != nil {
		fmt.Fprintln(e.stderr, "axis "+name+":", err)
		fs.Usage()
		return nil, nil, errUsage
	}
	return c, fs.Args(), nil
}

func printLines[T any](e *env, items []T) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetEscapeHTML(false)
	for _, it := range items {
		if err := enc.Encode(it); err != nil {
			return err
		}
	}
	return nil
}

const axisSendUsage = `Usage:
  lienthong axis send [connection flags] --from CODE [--type edoc|status] [--to CODE,...] FILE

Uploads FILE with sendEdoc and prints the DocId the axis gave it. Without
--to the axis routes by the package's own recipients.

Example:
  lienthong axis send --endpoint URL --system-id ID --secret-file secret \
      --from 000.00.07.H26 cong-van.edxml
`

func axisSend(e *env, args []string) error {
	var from, typ, to string
	c, rest, err := axisCommand(e, "send", axisSendUsage, args, 1, func(fs *flagSet) {
		fs.StringVar(&from, "from", "", "sending agency code (required)")
		fs.StringVar(&typ, "type", axis.MessageEdoc, "message type: edoc or status")
		fs.StringVar(&to, "to", "", "comma-separated recipient codes")
	})
	if err != nil {
		return err
	}
	defer c.Close()
	if from == "" {
		return fmt.Errorf("axis send: --from is required")
	}
	up, err := axis.FileUpload(rest[0])
	if err != nil {
		return err
	}
	m := newByteMeter(e, io.Discard, "axis send", up.Size)
	open := up.Open
	up.Open = func() (io.ReadCloser, error) {
		f, err := open()
		if err != nil {
			return nil, err
		}
		return struct {
			io.Reader
			io.Closer
		}{io.TeeReader(f, m), f}, nil
	}
	req := axis.SendRequest{From: from, MessageType: typ, Upload: up}
	if to != "" {
		req.To = strings.Split(to, ",")
	}
	id, err := c.SendEdoc(e.ctx, req)
	m.done()
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, id)
	return nil
}

const axisListUsage = `Usage:
  lienthong axis list [connection flags] [--type edoc|status]

Lists packages waiting for our agencies (getReceivedEdocList).

Example:
  lienthong axis list --endpoint URL --system-id ID --secret-file secret --type status
`

func axisList(e *env, args []string) error {
	var typ string
	c, _, err := axisCommand(e, "list", axisListUsage, args, 0, func(fs *flagSet) {
		fs.StringVar(&typ, "type", axis.MessageEdoc, "message type: edoc or status")
	})
	if err != nil {
		return err
	}
	defer c.Close()
	items, err := c.GetReceivedEdocList(e.ctx, typ)
	if err != nil {
		return err
	}
	return printLines(e, items)
}

const axisGetUsage = `Usage:
  lienthong axis get [connection flags] [--out FILE] [--download] DOCID

Fetches a package (getEdoc, or downloadEdoc with --download) without
acknowledging it; "axis ack" does that.

Example:
  lienthong axis get --endpoint URL --system-id ID --secret-file secret --out p.edxml 0194f...
`

func axisGet(e *env, args []string) error {
	var out string
	var download bool
	c, rest, err := axisCommand(e, "get", axisGetUsage, args, 1, func(fs *flagSet) {
		fs.StringVar(&out, "out", "", "write the package here instead of stdout")
		fs.BoolVar(&download, "download", false, "use downloadEdoc (a raw stream) instead of getEdoc")
	})
	if err != nil {
		return err
	}
	defer c.Close()
	var w io.Writer = e.stdout
	if out != "" {
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	if download {
		_, err = c.DownloadEdoc(e.ctx, rest[0], w)
		return err
	}
	b, err := c.GetEdoc(e.ctx, rest[0])
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

const axisAckUsage = `Usage:
  lienthong axis ack [connection flags] [--fail] DOCID

Acknowledges a fetched package with updateStatus done, which takes it off
the pending list, or fail, which leaves it there.

Example:
  lienthong axis ack --endpoint URL --system-id ID --secret-file secret 0194f...
`

func axisAck(e *env, args []string) error {
	var failed bool
	c, rest, err := axisCommand(e, "ack", axisAckUsage, args, 1, func(fs *flagSet) {
		fs.BoolVar(&failed, "fail", false, "report fail instead of done")
	})
	if err != nil {
		return err
	}
	defer c.Close()
	status := axis.StatusDone
	if failed {
		status = axis.StatusFail
	}
	return c.UpdateStatus(e.ctx, rest[0], status)
}

const axisSentUsage = `Usage:
  lienthong axis sent [connection flags] [--type edoc|status] [--doc-id ID]

Lists what our agencies sent, one line per recipient with its receive state
(getSentEdocList). After an ambiguous send, look here before sending again.

Example:
  lienthong axis sent --endpoint URL --system-id ID --secret-file secret --doc-id 0194f...
`

func axisSent(e *env, args []string) error {
	var typ, id string
	c, _, err := axisCommand(e, "sent", axisSentUsage, args, 0, func(fs *flagSet) {
		fs.StringVar(&typ, "type", axis.MessageEdoc, "message type: edoc or status")
		fs.StringVar(&id, "doc-id", "", "only this package")
	})
	if err != nil {
		return err
	}
	defer c.Close()
	items, err := c.GetSentEdocList(e.ctx, typ, id)
	if err != nil {
		return err
	}
	return printLines(e, items)
}

const axisAgenciesUsage = `Usage:
  lienthong axis agencies [connection flags] [--sync]

Prints the axis's agency directory (getAgenciesList), or with --sync the
versioned list with deletions (getSynchronizeUnit), one agency per line.

Example:
  lienthong axis agencies --endpoint URL --system-id ID --secret-file secret > agencies.jsonl
`

func axisAgencies(e *env, args []string) error {
	var sync bool
	c, _, err := axisCommand(e, "agencies", axisAgenciesUsage, args, 0, func(fs *flagSet) {
		fs.BoolVar(&sync, "sync", false, "use getSynchronizeUnit")
	})
	if err != nil {
		return err
	}
	defer c.Close()
	var list []axis.Agency
	if sync {
		list, err = c.GetSynchronizeUnit(e.ctx)
	} else {
		list, err = c.GetAgenciesList(e.ctx)
	}
	if err != nil {
		return err
	}
	return printLines(e, list)
}
