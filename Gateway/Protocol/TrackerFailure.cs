namespace Chihaya.Orleans.Gateway.Protocol;

/// <summary>
/// The <c>failure reason</c> texts clients show their users. Fixed strings, so refusing a bad request
/// allocates nothing.
/// </summary>
internal static class TrackerFailure
{
    public const string MissingInfoHash = "missing info_hash";
    public const string InvalidInfoHash = "invalid info_hash: it must be 20 bytes, percent-encoded";
    public const string MissingPeerId = "missing peer_id";
    public const string InvalidPeerId = "invalid peer_id: it must be 20 bytes, percent-encoded";
    public const string MissingPort = "missing port";
    public const string InvalidPort = "invalid port: it must be between 1 and 65535";
    public const string MissingUploaded = "missing uploaded";
    public const string InvalidUploaded = "invalid uploaded: it must be a whole number of bytes, 0 or more";
    public const string MissingDownloaded = "missing downloaded";
    public const string InvalidDownloaded = "invalid downloaded: it must be a whole number of bytes, 0 or more";
    public const string MissingLeft = "missing left";
    public const string InvalidLeft = "invalid left: it must be a whole number of bytes, 0 or more";
    public const string InvalidEvent = "invalid event: expected started, completed, stopped, paused or empty";
    public const string InvalidNumWant = "invalid numwant: it must be a whole number, 0 or more";
    public const string InvalidCompact = "invalid compact: expected 0 or 1";
    public const string InvalidAddress = "invalid ip, ipv4 or ipv6 parameter";
    public const string DuplicateParameter = "a parameter appears twice";
    public const string BrokenEncoding = "malformed query: broken percent-encoding";
    public const string QueryTooLong = "malformed query: too long";
    public const string MissingPasskey = "this is a private tracker: announce to /PASSKEY/announce with your personal passkey";
    public const string InvalidPasskey = "invalid passkey";
    public const string UnknownPasskey = "unknown passkey: download the torrent again from the site";
    public const string LeechingNotAllowed = "your account is not allowed to download; seeding is still allowed";
    public const string TorrentNotRegistered = "torrent not registered with this tracker";
    public const string ClientNotAllowed = "your BitTorrent client is not allowed on this tracker; see the site's list of allowed clients";
    public const string TorrentDeleted = "torrent has been deleted";
    public const string TorrentDeletedPrefix = "torrent has been deleted: ";
    public const string TooManyScrapeHashes = "too many info_hash parameters in one scrape";
    public const string NoAddress = "could not determine your address";
    public const string Internal = "tracker error, please try again later";
    public const string TooManyUnknownPasskeys = "too many unknown passkeys from your address: try again in a minute";
    public const string IgnoredAddressWarning = "the ip parameter is ignored: your address is taken from the connection";
}
