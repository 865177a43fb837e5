package store

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/lib/pq"
)

// openFailure turns the errors no wait can fix into a final error that says what to do, and returns nil for the
// others (PostgreSQL still starting, a network blip), which Open retries until its deadline.
func openFailure(err error, databaseURL string) error {
	var pe *pq.Error
	if !errors.As(err, &pe) {
		return nil
	}
	switch pe.Code {
	case "3D000": // invalid_catalog_name: the database does not exist
		return fmt.Errorf("connect to PostgreSQL (%s): %w\n%s", redactURL(databaseURL), err, createDBAdvice(databaseURL))
	case "28P01", "28000": // wrong password, no pg_hba entry: retrying sends the same credentials
		return fmt.Errorf("connect to PostgreSQL (%s): %w (check the user and password in DATABASE_URL or --database-url)",
			redactURL(databaseURL), err)
	}
	return nil
}

// createDBAdvice says how to create the database a URL names; the tables are created by the first program that
// opens it (the worker or the starter run the migrations).
func createDBAdvice(databaseURL string) string {
	u, err := url.Parse(databaseURL)
	if err != nil {
		return "Create the database named in DATABASE_URL (or --database-url) first."
	}
	name := strings.TrimPrefix(u.Path, "/")
	args := []string{}
	if h := u.Hostname(); h != "" {
		args = append(args, "-h", h)
	}
	if p := u.Port(); p != "" {
		args = append(args, "-p", p)
	}
	if u.User != nil && u.User.Username() != "" {
		args = append(args, "-U", u.User.Username())
	}
	return fmt.Sprintf("Create it with `createdb %s %s` (or `CREATE DATABASE %s;` in psql); its tables are created "+
		"on first use. Or point DATABASE_URL (or --database-url) at another database.",
		strings.Join(args, " "), name, pq.QuoteIdentifier(name))
}
