package store

import (
	"io/fs"
	"net/url"

	"github.com/lib/pq"

	"github.com/pressly/goose/v3/lock"
)

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}

func mustLocker() lock.SessionLocker {
	l, err := lock.NewPostgresSessionLocker()
	if err != nil {
		panic(err) // only fails on invalid options, and we pass none
	}
	return l
}

// redactURL drops the password from a database URL before it is printed.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparsable database URL>"
	}
	return u.Redacted()
}

func int64Array(ids []int64) interface{} { return pq.Array(ids) }

func stringArray(s []string) interface{} { return pq.Array(s) }
