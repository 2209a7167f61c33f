package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"lienthong/directory"
)

const dirUsage = `Usage:
  lienthong dir SUBCOMMAND [args]

Subcommands:
%s
Example:
  lienthong dir parse 000.00.07.H26
`

func runDir(e *env, args []string) error {
	return dispatch(e, "lienthong dir", dirUsage, []command{
		{"parse", "check an identifier code and show its level and parent", runDirParse},
		{"search", "find agencies by name (exported directory file or running gateway)", runDirSearch},
		{"lookup", "show an agency by code (exported directory file or running gateway)", runDirLookup},
	}, args)
}

const dirParseUsage = `Usage:
  lienthong dir parse CODE

Checks an agency identifier code (mã định danh, NNN.NN.NN.XNN) and prints
{"code","level","parent","group"} as JSON. An invalid code exits 1 with the
broken rule on stderr.

Example:
  $ lienthong dir parse 000.00.07.H26
  {"code":"000.00.07.H26","level":2,"parent":"000.00.00.H26","group":"H"}
`

func runDirParse(e *env, args []string) error {
	fs := newFlags(e, "dir parse", dirParseUsage)
	if err := parseFlags(e, fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	c, err := directory.ParseCode(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("identifier code %w", err)
	}
	out := struct {
		Code   string `json:"code"`
		Level  int    `json:"level"`
		Parent string `json:"parent"`
		Group  string `json:"group"`
	}{string(c), c.Level(), string(c.Parent()), string(c.Group())}
	return json.NewEncoder(e.stdout).Encode(out)
}

const dirSearchUsage = `Usage:
  lienthong dir search --file agencies.json [--limit N] TEXT...
  lienthong dir search [--api URL] TEXT...    (the running gateway's directory)

Finds agencies by name in a directory exported from the axis (the
getAgenciesList JSON, {"status":"OK","data":[...]} or a bare list). Case
and diacritics are ignored and word order is free: "so tai chinh ha noi"
finds "Sở Tài chính Hà Nội". Prints one JSON object per line, best first.

Example:
  $ lienthong dir search --file agencies.json so tai chinh ha noi
  {"id":"2","code":"000.00.07.H26","name":"Sở Tài chính Hà Nội","pid":"1"}
`

func runDirSearch(e *env, args []string) error {
	fs := newFlags(e, "dir search", dirSearchUsage)
	file := fs.String("file", "", "exported directory JSON; without it, ask the running gateway")
	limit := fs.Int("limit", 20, "most results to print")
	api := addAPIFlags(fs)
	if err := parseFlags(e, fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errUsage
	}
	if *file == "" {
		return dirFromAPI(e, api, "", fs.Args(), *limit)
	}
	d, err := loadDirectory(e, *file)
	if err != nil {
		return err
	}
	return printEntries(e, d.Search(strings.Join(fs.Args(), " "), *limit))
}

const dirLookupUsage = `Usage:
  lienthong dir lookup --file agencies.json CODE
  lienthong dir lookup [--api URL] CODE       (the running gateway's directory)

Prints the agency with that identifier code from an exported directory as
one JSON object; a code it does not hold exits 1.

Example:
  $ lienthong dir lookup --file agencies.json 000.00.07.H26
  {"id":"2","code":"000.00.07.H26","name":"Sở Tài chính Hà Nội","pid":"1"}
`

func runDirLookup(e *env, args []string) error {
	fs := newFlags(e, "dir lookup", dirLookupUsage)
	file := fs.String("file", "", "exported directory JSON; without it, ask the running gateway")
	api := addAPIFlags(fs)
	if err := parseFlags(e, fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	code, err := directory.ParseCode(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("identifier code %w", err)
	}
	if *file == "" {
		return dirFromAPI(e, api, string(code), nil, 0)
	}
	d, err := loadDirectory(e, *file)
	if err != nil {
		return err
	}
	ent, ok := d.Lookup(string(code))
	if !ok {
		return fmt.Errorf("%s: %w", code, directory.ErrUnknown)
	}
	return printEntries(e, []directory.Entry{ent})
}

// loadDirectory reads an exported directory, warning about entries it had
// to leave out.
func loadDirectory(e *env, file string) (*directory.Directory, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	entries, rep, err := directory.ReadEntries(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	for _, r := range rep.Refused {
		fmt.Fprintf(e.stderr, "%s: left out %s\n", file, r)
	}
	if len(entries) == 0 {
		return nil, errors.New(file + ": no usable directory entry")
	}
	return directory.Load(entries, time.Time{}), nil
}

func printEntries(e *env, entries []directory.Entry) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetEscapeHTML(false)
	for _, ent := range entries {
		if err := enc.Encode(ent); err != nil {
			return err
		}
	}
	return nil
}
