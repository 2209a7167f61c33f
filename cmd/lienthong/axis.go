package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"lienthong/conf"
	"lienthong/gateway/axis"
)

const axisLong = `Talks to an axis adapter directly, for diagnostics without the daemon, in
either dialect: the national SDK wire (sdk) or a province's REST/JSON dialect
(rest-v2). Name the axis by the daemon's configuration (--config, --axis, and
--agency for an agency's own credentials on it), or give every setting as a
flag. Lists print one JSON object per line. A failure says its class:
retryable, terminal, or ambiguous (a send that may have arrived: check "sent",
which the rest-v2 dialect does not have).`

const axisExample = `  lienthong axis send --endpoint http://127.0.0.1:8080/XrdAdapter/adapter \
      --system-id 00.53.W00 --secret-file secret --from 000.00.07.H26 cong-van.edxml
  lienthong axis list --config /etc/lienthong/lienthong.toml --axis langson --agency 000.01.07.H26`

func axisCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "axis", Short: "talk to an axis adapter directly: send, list, get, ack, sent, agencies",
		Long: axisLong, Example: axisExample}
	af := addAxisFlags(c.PersistentFlags())
	c.AddCommand(axisSendCmd(e, af), axisListCmd(e, af), axisGetCmd(e, af), axisAckCmd(e, af), axisSentCmd(e, af), axisAgenciesCmd(e, af))
	return group(c)
}

// axisFlags are the connection flags every axis subcommand takes.
type axisFlags struct {
	endpoint, systemID, secretFile, caFile string
	padded                                 bool
	config, name, agency                   string
	dialect, tokenURL, tokenUser, tokenPwd string
}

func addAxisFlags(fs *pflag.FlagSet) *axisFlags {
	f := &axisFlags{}
	fs.StringVar(&f.config, "config", "", "the daemon's configuration, to take the axis's settings from")
	fs.StringVar(&f.name, "axis", "", "with --config: which axis, by name (default the first: national)")
	fs.StringVar(&f.agency, "agency", "", "with --config: use this agency's own credentials on the axis")
	fs.StringVar(&f.endpoint, "endpoint", "", "adapter base URL (required without --config)")
	fs.StringVar(&f.systemID, "system-id", "", "our integration system id (required without --config)")
	fs.StringVar(&f.secretFile, "secret-file", "", "file holding the system's secret (required without --config)")
	fs.StringVar(&f.caFile, "ca", "", "PEM roots for the adapter's TLS certificate")
	fs.BoolVar(&f.padded, "padded-hash", false, "sdk: send hash-file as plain hex instead of the SDK's unpadded form")
	fs.StringVar(&f.dialect, "dialect", axis.DialectSDK, "sdk or rest-v2")
	fs.StringVar(&f.tokenURL, "token-url", "", "rest-v2: the login endpoint (default ENDPOINT/v1/login)")
	fs.StringVar(&f.tokenUser, "token-user", "", "rest-v2: the login's user")
	fs.StringVar(&f.tokenPwd, "token-password-file", "", "rest-v2: file holding the login's password")
	return f
}

// settings are the client's configuration, from the daemon's file or the
// flags; a missing one is a usage error.
func (f *axisFlags) settings() (axis.Config, bool, error) {
	if f.config != "" {
		return f.fromConfig()
	}
	if f.endpoint == "" || f.systemID == "" || f.secretFile == "" {
		return axis.Config{}, true, fmt.Errorf("--endpoint, --system-id and --secret-file are required, or --config")
	}
	secret, err := readTrimmed(f.secretFile)
	if err != nil {
		return axis.Config{}, false, err
	}
	cfg := axis.Config{Endpoint: f.endpoint, SystemID: f.systemID, CAFile: f.caFile, PaddedHashFile: f.padded,
		Secret: []byte(secret), Dialect: f.dialect, Token: axis.Token{URL: f.tokenURL, User: f.tokenUser}}
	if f.tokenPwd != "" {
		if cfg.Token.Password, err = readTrimmed(f.tokenPwd); err != nil {
			return cfg, false, err
		}
	}
	return cfg, false, nil
}

func (f *axisFlags) fromConfig() (axis.Config, bool, error) {
	c, err := conf.Load(f.config)
	var ps conf.Problems
	if errors.As(err, &ps) {
		// Only what reaching an axis needs must be right here.
		ps = slices.DeleteFunc(ps, func(p conf.Problem) bool {
			return !strings.HasPrefix(p.Path, "ax") && !strings.HasPrefix(p.Path, "agencies")
		})
		if err = nil; len(ps) > 0 {
			err = ps
		}
	}
	if err != nil {
		return axis.Config{}, false, err
	}
	var a *conf.Axis
	var names []string
	for _, x := range c.AllAxes() {
		names = append(names, x.Name)
		if x.Name == f.name || (f.name == "" && a == nil) {
			a = &x
		}
	}
	if a == nil {
		return axis.Config{}, true, fmt.Errorf("--axis %q: the configuration has %s", f.name, strings.Join(names, ", "))
	}
	if f.agency != "" {
		all := append([]conf.Agency{c.Agency}, c.Agencies...)
		i := slices.IndexFunc(all, func(ag conf.Agency) bool { return ag.Code == f.agency })
		if i < 0 {
			return axis.Config{}, true, fmt.Errorf("--agency %s: not an agency of the configuration", f.agency)
		}
		if ag := all[i]; ag.AxisSystemID != "" {
			a.SystemID, a.Secret = ag.AxisSystemID, ag.AxisSecret
		}
	}
	secret, err := a.Secret.Read()
	if err != nil {
		return axis.Config{}, false, fmt.Errorf("the axis secret: %w", err)
	}
	password := ""
	if a.TokenPassword.Set() {
		if password, err = a.TokenPassword.Read(); err != nil {
			return axis.Config{}, false, fmt.Errorf("the axis token password: %w", err)
		}
	}
	return axis.Config{Endpoint: a.Endpoint, SystemID: a.SystemID, Secret: []byte(secret), Dialect: a.Dialect,
		PaddedHashFile: a.PaddedHashFile, CAFile: a.CAFile, CertFile: a.CertFile, KeyFile: a.KeyFile,
		Token:      axis.Token{URL: a.TokenURL, User: a.TokenUser, Password: password, Form: a.TokenForm, TTL: time.Duration(a.TokenTTL)},
		ListWindow: time.Duration(a.ListWindow)}, false, nil
}

func readTrimmed(path string) (string, error) {
	b, err := os.ReadFile(path)
	return strings.TrimRight(string(b), "\r\n"), err
}

// connect opens the client the flags describe; missing ones are a usage
// error.
func (f *axisFlags) connect(c *cobra.Command) (axis.Axis, error) {
	cfg, usage, err := f.settings()
	if err == nil {
		var cl axis.Axis
		if cl, err = axis.Open(cfg); err == nil {
			return cl, nil
		}
	}
	if usage {
		return nil, &usageError{c, err}
	}
	return nil, err
}

// sdk is the client when it speaks the SDK wire, for what only it has.
func sdk(cl axis.Axis, what string) (*axis.Client, error) {
	if c, ok := cl.(*axis.Client); ok {
		return c, nil
	}
	return nil, fmt.Errorf("%s: the rest-v2 dialect has no such operation; only the SDK wire has it", what)
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

const axisListLong = `Lists packages waiting for our agencies (getReceivedEdocList; on rest-v2
the received list of the last three days, without duplicates).`

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
			c, err := sdk(cl, "--download (downloadEdoc)")
			if err != nil {
				return err
			}
			_, err = c.DownloadEdoc(e.ctx, args[0], w)
			return err
		}
		_, err = cl.GetEdocTo(e.ctx, args[0], w)
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
	desc := c.Flags().String("description", "", "rest-v2: why, carried with --fail")
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
		return axis.Acknowledge(e.ctx, cl, args[0], status, *desc)
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
		sc, err := sdk(cl, "agencies")
		if err != nil {
			return err
		}
		var list []axis.Agency
		if *sync {
			list, err = sc.GetSynchronizeUnit(e.ctx)
		} else {
			list, err = sc.GetAgenciesList(e.ctx)
		}
		if err != nil {
			return err
		}
		return printLines(e, list)
	}
	return c
}
