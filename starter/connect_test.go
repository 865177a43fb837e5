package main

import (
	"database/sql"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An unreachable Temporal is named with its address and the variable that sets it; progress then says in words
// that its figures come from the database.
func TestUnreachableTemporalIsNamed(t *testing.T) {
	c := newCLI(t) // Temporal at 127.0.0.1:1, where nothing listens
	c.setup()
	c.fails(1, "cannot reach Temporal at 127.0.0.1:1 (set it with TEMPORAL_ADDRESS", "integration", "activate", "acme")

	db, err := sql.Open("postgres", c.dbURL)
	require.NoError(t, err)
	defer db.Close()
	_, err = db.Exec(`UPDATE integrations SET active = true`) // as if activated while Temporal was up
	require.NoError(t, err)
	text := c.ok("progress", "acme")
	assert.Regexp(t, `source:\s+database: the workflow did not answer \(cannot reach Temporal at 127.0.0.1:1`, text)
	assert.Regexp(t, `phase:\s+first_sync`, text)
	c.fails(1, "cannot reach Temporal at 127.0.0.1:1", "sync", "acme")
}

// A database that does not exist is named, with the command that creates it, at once rather than after retries.
func TestMissingDatabaseSaysHowToCreateIt(t *testing.T) {
	c := newCLI(t)
	u, err := url.Parse(c.dbURL)
	require.NoError(t, err)
	u.Path = "/zs_no_such_database"
	c.dbURL = u.String()
	c.fails(1, `database "zs_no_such_database" does not exist`, "user", "list")
	r := c.run("user", "list")
	assert.Contains(t, r.errOut, "Create it with `createdb -h "+u.Hostname()+" -p "+u.Port())
	assert.Contains(t, r.errOut, "zs_no_such_database` (or `CREATE DATABASE")
}
