package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"lienthong/directory"
)

const dirExample = `  lienthong dir parse 000.00.07.H26`

func dirCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "dir", Short: "check identifier codes; search the agency directory", Example: dirExample}
	c.AddCommand(dirParseCmd(e), dirSearchCmd(e), dirLookupCmd(e))
	return group(c)
}

const dirParseLong = `Checks an agency identifier code (mã định danh, NNN.NN.NN.XNN) and prints
{"code","level","parent","group"} as JSON. An invalid code exits 1 with the
broken rule on stderr.`

const dirParseExample = `  lienthong dir parse 000.00.07.H26
  # prints {"code":"000.00.07.H26","level":2,"parent":"000.00.00.H26","group":"H"}`

func dirParseCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "parse CODE", Short: "check an identifier code and show its level and parent",
		Long: dirParseLong, Example: dirParseExample, Args: nArgs(1)}
	c.RunE = func(_ *cobra.Command, args []string) error {
		code, err := directory.ParseCode(args[0])
		if err != nil {
			return fmt.Errorf("identifier code %w", err)
		}
		out := struct {
			Code   string `json:"code"`
			Level  int    `json:"level"`
			Parent string `json:"parent"`
			Group  string `json:"group"`
		}{string(code), code.Level(), string(code.Parent()), string(code.Group())}
		return jsonOut(e.stdout).Encode(out)
	}
	return c
}

const dirSearchLong = `Finds agencies by name in a directory exported from the axis (the
getAgenciesList JSON, {"status":"OK","data":[...]}, a bare list, or one
agency per line as "lienthong axis agencies" prints them). Case and
diacritics are ignored and word order is free: "so tai chinh ha noi"
finds "Sở Tài chính Hà Nội". Prints one JSON object per line, best first.`

const dirSearchExample = `  lienthong dir search --file agencies.json so tai chinh ha noi
  # prints {"id":"2","code":"000.00.07.H26","name":"Sở Tài chính Hà Nội","pid":"1"}`

func dirSearchCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "search TEXT...", Short: "find agencies by name (exported directory file or running gateway)",
		Long: dirSearchLong, Example: dirSearchExample, Args: argsBetween(1, -1)}
	file := c.Flags().String("file", "", "exported directory JSON; without it, ask the running gateway")
	limit := c.Flags().Int("limit", 20, "most results to print")
	api := addAPIFlags(c.Flags())
	c.RunE = func(_ *cobra.Command, args []string) error {
		if *file == "" {
			return dirFromAPI(e, api, "", args, *limit)
		}
		d, err := loadDirectory(e, *file)
		if err != nil {
			return err
		}
		return printEntries(e, d.Search(strings.Join(args, " "), *limit))
	}
	return c
}

const dirLookupLong = `Prints the agency with that identifier code from an exported directory as
one JSON object; a code it does not hold exits 1.`

const dirLookupExample = `  lienthong dir lookup --file agencies.json 000.00.07.H26
  # prints {"id":"2","code":"000.00.07.H26","name":"Sở Tài chính Hà Nội","pid":"1"}`

func dirLookupCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "lookup CODE", Short: "show an agency by code (exported directory file or running gateway)",
		Long: dirLookupLong, Example: dirLookupExample, Args: nArgs(1)}
	file := c.Flags().String("file", "", "exported directory JSON; without it, ask the running gateway")
	api := addAPIFlags(c.Flags())
	c.RunE = func(_ *cobra.Command, args []string) error {
		code, err := directory.ParseCode(args[0])
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
	return c
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
	enc := jsonOut(e.stdout)
	enc.SetEscapeHTML(false)
	for _, ent := range entries {
		if err := enc.Encode(ent); err != nil {
			return err
		}
	}
	return nil
}
