//! The listening connection of [`super::pg_hub`]: libpq's own, because diesel's
//! `PgConnection` hides its socket. [`ListenConn::wait`] blocks in `PQsocketPoll` until the
//! server sends something or the timeout passes, so an idle listener costs nothing (no
//! polling), and a notification is handed over as soon as it arrives.
//!
//! Every unsafe call is on a connection this value owns (finished once, on drop) and reads
//! C strings libpq keeps valid until the call that frees them.

use std::ffi::{CStr, CString};
use std::time::Duration;

use pq_sys as pq;

/// One libpq connection, used by one thread at a time.
pub struct ListenConn {
    conn: *mut pq::PGconn,
}

// SAFETY: libpq connections are not tied to the thread that opened them; `ListenConn` is
// not `Sync` and its methods take `&mut self`, so one thread uses it at a time.
unsafe impl Send for ListenConn {}

impl ListenConn {
    /// Connect to `url` (a `postgres://` URI, parameters included).
    pub fn connect(url: &str) -> Result<ListenConn, String> {
        let info = CString::new(url).map_err(|e| e.to_string())?;
        // SAFETY: `info` is a valid C string for the duration of the call.
        let conn = unsafe { pq::PQconnectdb(info.as_ptr()) };
        if conn.is_null() {
            return Err("libpq could not allocate a connection".into());
        }
        // From here on, drop finishes the connection, whatever its state.
        let conn = ListenConn { conn };
        // SAFETY: `conn.conn` is a live connection object.
        if unsafe { pq::PQstatus(conn.conn) } != pq::ConnStatusType::CONNECTION_OK {
            return Err(conn.error());
        }
        Ok(conn)
    }

    /// The connection's last error message.
    fn error(&self) -> String {
        // SAFETY: the message belongs to the live connection and is copied at once.
        let message = unsafe { pq::PQerrorMessage(self.conn) };
        if message.is_null() {
            return "unknown libpq error".into();
        }
        // SAFETY: libpq returns a NUL-terminated string.
        let text = unsafe { CStr::from_ptr(message) }.to_string_lossy();
        match text.trim() {
            "" => "the connection was closed".into(),
            t => t.to_owned(),
        }
    }

    /// Run one statement whose rows, if any, are not needed (`LISTEN`, `SELECT 1`).
    pub fn execute(&mut self, sql: &str) -> Result<(), String> {
        let sql = CString::new(sql).map_err(|e| e.to_string())?;
        // SAFETY: live connection, valid C string.
        let result = unsafe { pq::PQexec(self.conn, sql.as_ptr()) };
        if result.is_null() {
            return Err(self.error());
        }
        // SAFETY: `result` is the non-null result just returned; cleared exactly once.
        let status = unsafe { pq::PQresultStatus(result) };
        // SAFETY: as above.
        unsafe { pq::PQclear(result) };
        match status {
            pq::ExecStatusType::PGRES_COMMAND_OK | pq::ExecStatusType::PGRES_TUPLES_OK => Ok(()),
            _ => Err(self.error()),
        }
    }

    /// The payloads of the notifications that arrived, waiting at most `timeout` for the
    /// first one (none when the timeout passed). An error means the connection is gone.
    pub fn wait(&mut self, timeout: Duration) -> Result<Vec<String>, String> {
        let queued = self.take_notifications();
        if !queued.is_empty() {
            return Ok(queued);
        }
        // SAFETY: live connection.
        let socket = unsafe { pq::PQsocket(self.conn) };
        if socket < 0 {
            return Err(self.error());
        }
        let wait = i64::try_from(timeout.as_micros()).unwrap_or(i64::MAX / 4);
        // SAFETY: plain functions over a socket number the connection owns.
        let ready = unsafe { pq::PQsocketPoll(socket, 1, 0, pq::PQgetCurrentTimeUSec() + wait) };
        if ready < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                return Ok(Vec::new());
            }
            return Err(format!("waiting on the listening connection: {e}"));
        }
        if ready == 0 {
            return Ok(Vec::new());
        }
        // SAFETY: live connection. 0 means the read failed (the connection is gone).
        if unsafe { pq::PQconsumeInput(self.conn) } == 0 {
            return Err(self.error());
        }
        Ok(self.take_notifications())
    }

    /// The notifications libpq has read so far.
    fn take_notifications(&mut self) -> Vec<String> {
        let mut payloads = Vec::new();
        loop {
            // SAFETY: live connection; each notification is freed once, after its payload
            // was copied.
            let notification = unsafe { pq::PQnotifies(self.conn) };
            if notification.is_null() {
                return payloads;
            }
            // SAFETY: non-null notification from libpq; `extra` is NUL-terminated or null.
            let extra = unsafe { (*notification).extra };
            if !extra.is_null() {
                // SAFETY: as above.
                let text = unsafe { CStr::from_ptr(extra) };
                payloads.push(text.to_string_lossy().into_owned());
            }
            // SAFETY: freed once, not used afterwards.
            unsafe { pq::PQfreemem(notification.cast()) };
        }
    }
}

impl Drop for ListenConn {
    fn drop(&mut self) {
        // SAFETY: the connection object is finished once, here.
        unsafe { pq::PQfinish(self.conn) };
    }
}
