using System.Buffers;
using System.Text;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;

namespace Chihaya.Orleans.Grains.Interfaces.Documents;

/// <summary>A torrent as JSON: in the seed file and in the admin API.</summary>
public sealed record TorrentDocument
{
    /// <summary>
    /// The longest reason, in bytes of UTF-8: the site's column checks <c>octet_length(deleted_reason) &lt;= 512</c>
    /// (<c>deploy/sql/001_site.sql</c>), a limit in bytes of the database's encoding (UTF-8), not in characters.
    /// </summary>
    public const int MaxReasonBytes = 512;

    /// <summary>40 hex characters.</summary>
    public string? InfoHash { get; init; }

    public long Id { get; init; }

    /// <summary><c>active</c> or <c>deleted</c>.</summary>
    public string? Status { get; init; } = "active";

    /// <summary>The site's reason, shown to clients of a deleted torrent.</summary>
    public string? Reason { get; init; }

    public decimal UploadMultiplier { get; init; } = 1m;

    public decimal DownloadMultiplier { get; init; } = 1m;

    /// <summary>The profile this document describes, or an error for the admin API to return.</summary>
    public TorrentProfile ToProfile(out string? error)
    {
        var multipliers = new Multipliers(UploadMultiplier, DownloadMultiplier);
        var status = (Status ?? "active").ToLowerInvariant() switch
        {
            "active" => TorrentStatus.Active,
            "deleted" => TorrentStatus.Deleted,
            _ => (TorrentStatus?)null,
        };
        var reasonBytes = Reason is null ? 0 : StorableUtf8Length(Reason);
        error = Id <= 0 ? "id must be a positive number"
            : status is null ? "status must be active or deleted"
            : !multipliers.IsValid ? Multipliers.ValidRange
            : reasonBytes is null ? "reason must be Unicode text without NUL characters"
            : reasonBytes > MaxReasonBytes ? $"reason is longer than {MaxReasonBytes} bytes of UTF-8"
            : null;
        return new TorrentProfile(Id, status ?? TorrentStatus.Active, Reason, multipliers, 0);
    }

    /// <summary>
    /// The text's length in UTF-8 bytes, or null when PostgreSQL could not store it as text: a NUL character, or
    /// half a surrogate pair (which has no UTF-8 form). Judged here so such a reason is a 400, never a failed write.
    /// </summary>
    private static int? StorableUtf8Length(string text)
    {
        var bytes = 0;
        var rest = text.AsSpan();
        while (!rest.IsEmpty)
        {
            if (Rune.DecodeFromUtf16(rest, out var rune, out var used) != OperationStatus.Done || rune.Value == 0)
            {
                return null;
            }

            bytes += rune.Utf8SequenceLength;
            rest = rest[used..];
        }

        return bytes;
    }

    /// <summary>The document for a stored profile.</summary>
    public static TorrentDocument From(InfoHash infoHash, TorrentProfile profile) => new()
    {
        InfoHash = infoHash.ToGrainKey(),
        Id = profile.TorrentId,
        Status = profile.Status == TorrentStatus.Deleted ? "deleted" : "active",
        Reason = profile.DeletedReason,
        UploadMultiplier = profile.Multipliers.Upload,
        DownloadMultiplier = profile.Multipliers.Download,
    };
}
