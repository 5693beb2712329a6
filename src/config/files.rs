//! Files read at start: the configuration file, API keys, CA bundles and header secrets. Each is
//! opened without waiting and read only if it is a regular file within its size limit, so that a
//! FIFO, a device or `/dev/zero` can neither hang the start (deaf to SIGTERM) nor fill the memory.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The bytes of the regular file `path`, at most `max_bytes` of them; the error says why not,
/// in a few words, without the path (the caller names the setting and the path).
pub fn read_regular_file(path: &Path, max_bytes: u64) -> Result<Vec<u8>, String> {
    let cannot = |cause: std::io::Error| format!("cannot read it: {cause}");
    // Opened without waiting (a FIFO with no writer would block the open), then judged by what
    // was opened, not by the path, which could change in between.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(cannot)?;
    let metadata = file.metadata().map_err(cannot)?;
    if !metadata.is_file() {
        return Err("is not a regular file".to_owned());
    }
    let too_large = || format!("is larger than {max_bytes} bytes");
    if metadata.len() > max_bytes {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    file.take(max_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > max_bytes {
        return Err(too_large());
    }
    Ok(bytes)
}

/// The UTF-8 text of the regular file `path`, at most `max_bytes` of it, without a leading
/// byte-order mark (editors on Windows start a UTF-8 file with one).
pub fn read_text_file(path: &Path, max_bytes: u64) -> Result<String, String> {
    let bytes = read_regular_file(path, max_bytes)?;
    let text = String::from_utf8(bytes).map_err(|_| "is not UTF-8 text".to_owned())?;
    Ok(match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_owned(),
        None => text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_regular_file_within_its_limit() {
        let dir = std::env::temp_dir().join(format!("greeter-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        std::fs::write(&path, "\u{feff}hello").unwrap();
        assert_eq!(read_text_file(&path, 8).unwrap(), "hello");
        assert_eq!(read_regular_file(&path, 8).unwrap().len(), 8);
        assert_eq!(
            read_regular_file(&path, 7).unwrap_err(),
            "is larger than 7 bytes"
        );
        std::fs::write(&path, [0xff, 0xfe]).unwrap();
        assert_eq!(read_text_file(&path, 8).unwrap_err(), "is not UTF-8 text");
        assert_eq!(
            read_regular_file(&dir, 8).unwrap_err(),
            "is not a regular file"
        );
        assert!(
            read_regular_file(&dir.join("missing"), 8)
                .unwrap_err()
                .starts_with("cannot read it: ")
        );
        assert_eq!(
            read_regular_file(Path::new("/dev/zero"), 8).unwrap_err(),
            "is not a regular file"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
