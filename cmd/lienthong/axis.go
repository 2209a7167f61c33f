package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"lienthong/gateway/axis"
)

const axisLong = `Talks to the axis adapter directly, for diagnostics without the daemon.
Lists print one JSON object per line. A failure says its class: retryable,
terminal, or ambiguous (a send that may have arrived: check "sent").`

const axisExample = `  lienthong axis send --endpoint http://127.0.0.1:8080/XrdAdapter/adapter \
      --system-id 00.53.W00 --secret-file secret --from 000.00.07.H26 cong-van.edxml`

func axisCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "axis", Short: "talk to the axis adapter directly: send, list, get, ack, sent, agencies",
		Long: axisLong, Example: axisExample}
	af := addAxisFlags(c.PersistentFlags())
	c.AddCommand(axisSendCmd(e, af), axisListCmd(e, af), axisGetCmd(e, af), axisAckCmd(e, af), axisSentCmd(e, af), axisAgenciesCmd(e, af))
	return group(c)
}

// axisFlags are the connection flags every axis subcommand takes.
type axisFlags struct {
	endpoint, systemID, secretFile, caFile string
	padded                                 bool
}

func addAxisFlags(fs *pflag.FlagSet) *axisFlags {
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

// connect opens the client c's connection flags describe; missing ones
// are a usage error.
func (f *axisFlags) connect(c *cobra.Command) (*axis.Client, error) {
	cl, err := f.client()
	if err != nil && (f.endpoint == "" || f.systemID == "" || f.secretFile == "") {
		return nil, &usageError{c, err}
	}
	return cl, err
}

func printLines[T any](e *env, items []T) error {
	enc := jsonOut(e.stdout)
	enc.SetEscapeHTML(false)
	for _, it := range items {
		if err := enc.Encode(it); err != nil {
			return err
		}
	}
	return nil
}

const axisSendLong = `Uploads FILE with sendEdoc and prints the DocId the axis gave it. Without
--to the axis routes by the package's own recipients.`

const axisSendExample = `  lienthong axis send --endpoint URL --system-id ID --secret-file secret \
      --from 000.00.07.H26 cong-van.edxml`

func axisSendCmd(e *env, af *axisFlags) *cobra.Command {
	c := &cobra.Command{Use: "send --from CODE FILE", Short: "upload a package; prints the axis DocId",
		Long: axisSendLong, Example: axisSendExample, Args: nArgs(1)}
	from := c.Flags().String("from", "", "sending agency code (required)")
	typ := c.Flags().String("type", axis.MessageEdoc, "message type: edoc or status")
	values(c, "type", axis.MessageEdoc, axis.MessageStatus)
	to := c.Flags().String("to", "", "comma-separated recipient codes")
	c.RunE = func(c *cobra.Command, args []string) error {
		if *from == "" {
			return badUsage(c, "--from is required")
		}
		cl, err := af.connect(c)
		if err != nil {
			return err
		}
		defer cl.Close()
		up, err := axis.FileUpload(args[0])
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
		req := axis.SendRequest{From: *from, MessageType: *typ, Upload: up}
		if *to != "" {
			req.To = strings.Split(*to, ",")
		}
		id, err := cl.SendEdoc(e.ctx, req)
		m.done()
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, id)
		return nil
	}
	return c
}

const axisListLong = `Lists packages waiting for our agencies (getReceivedEdocList).`

const axisListExample = `  lienthong axis list --endpoint URL --system-id ID --secret-file secret --type status`

func axisListCmd(e *env, af *axisFlags) *cobra.Command {
	c := &cobra.Command{Use: "list", Short: "list packages waiting for us",
		Long: axisListLong, Example: axisListExample, Args: nArgs(0)}
	typ := c.Flags().String("type", axis.MessageEdoc, "message type: edoc or status")
	values(c, "type", axis.MessageEdoc, axis.MessageStatus)
	c.RunE = func(c *cobra.Command, _ []string) error {
		cl, err := af.connect(c)
		if err != nil {
			return err
		}
		defer cl.Close()
		items, err := cl.GetReceivedEdocList(e.ctx, *typ)
		if err != nil {
			return err
		}
		return printLines(e, items)
	}
	return c
}

const axisGetLong = `Fetches a package (getEdoc, or downloadEdoc with --download) without
acknowledging it; "axis ack" does that.`

const axisGetExample = `  lienthong axis get --endpoint URL --system-id ID --secret-file secret --out p.edxml 0194f...`

func axisGetCmd(e *env, af *axisFlags) *cobra.Command {
	c := &cobra.Command{Use: "get DOCID", Short: "fetch a package to standard output or --out",
		Long: axisGetLong, Example: axisGetExample, Args: nArgs(1)}
	out := c.Flags().String("out", "", "write the package here instead of standard output")
	download := c.Flags().Bool("download", false, "use downloadEdoc (a raw stream) instead of getEdoc")
	c.RunE = func(c *cobra.Command, args []string) error {
		cl, err := af.connect(c)
		if err != nil {
			return err
		}
		defer cl.Close()
		var w io.Writer = e.stdout
		if *out != "" {
			f, err := os.Create(*out)
			if err != nil {
				return err
			}
			defer f.Close()
			w = f
		}
		if *download {
			_, err = cl.DownloadEdoc(e.ctx, args[0], w)
			return err
		}
		b, err := cl.GetEdoc(e.ctx, args[0])
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	return c
}

const axisAckLong = `Acknowledges a fetched package with updateStatus done, which takes it off
the pending list, or fail, which leaves it there.`

const axisAckExample = `  lienthong axis ack --endpoint URL --system-id ID --secret-file secret 0194f...`

func axisAckCmd(e *env, af *axisFlags) *cobra.Command {
	c := &cobra.Command{Use: "ack DOCID", Short: "acknowledge a fetched package (done, or --fail)",
		Long: axisAckLong, Example: axisAckExample, Args: nArgs(1)}
	failed := c.Flags().Bool("fail", false, "report fail instead of done")
	c.RunE = func(c *cobra.Command, args []string) error {
		cl, err := af.connect(c)
		if err != nil {
			return err
		}
		defer cl.Close()
		status := axis.StatusDone
		if *failed {
			status = axis.StatusFail
		}
		return cl.UpdateStatus(e.ctx, args[0], status)
	}
	return c
}

const axisSentLong = `Lists what our agencies sent, one line per recipient with its receive state
(getSentEdocList). After an ambiguous send, look here before sending again.`

const axisSentExample = `  lienthong axis sent --endpoint URL --system-id ID --secret-file secret --doc-id 0194f...`

func axisSentCmd(e *env, af *axisFlags) *cobra.Command {
	c := &cobra.Command{Use: "sent", Short: "list what we sent, per recipient",
		Long: axisSentLong, Example: axisSentExample, Args: nArgs(0)}
	typ := c.Flags().String("type", axis.MessageEdoc, "message type: edoc or status")
	values(c, "type", axis.MessageEdoc, axis.MessageStatus)
	id := c.Flags().String("doc-id", "", "only this package")
	c.RunE = func(c *cobra.Command, _ []string) error {
		cl, err := af.connect(c)
		if err != nil {
			return err
		}
		defer cl.Close()
		items, err := cl.GetSentEdocList(e.ctx, *typ, *id)
		if err != nil {
			return err
		}
		return printLines(e, items)
	}
	return c
}

const axisAgenciesLong = `Prints the axis's agency directory (getAgenciesList), or with --sync the
versioned list with deletions (getSynchronizeUnit), one agency per line.`

const axisAgenciesExample = `  lienthong axis agencies --endpoint URL --system-id ID --secret-file secret > agencies.jsonl`

func axisAgenciesCmd(e *env, af *axisFlags) *cobra.Command {
	c := &cobra.Command{Use: "agencies", Short: "print the axis's agency directory",
		Long: axisAgenciesLong, Example: axisAgenciesExample, Args: nArgs(0)}
	sync := c.Flags().Bool("sync", false, "use getSynchronizeUnit")
	c.RunE = func(c *cobra.Command, _ []string) error {
		cl, err := af.connect(c)
		if err != nil {
			return err
		}
		defer cl.Close()
		var list []axis.Agency
		if *sync {
			list, err = cl.GetSynchronizeUnit(e.ctx)
		} else {
			list, err = cl.GetAgenciesList(e.ctx)
		}
		if err != nil {
			return err
		}
		return printLines(e, list)
	}
	return c
}
