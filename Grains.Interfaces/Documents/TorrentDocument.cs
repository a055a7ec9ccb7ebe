using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;

namespace Chihaya.Orleans.Grains.Interfaces.Documents;

/// <summary>A torrent as JSON: in the seed file and in the admin API.</summary>
public sealed record TorrentDocument
{
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
        error = Id <= 0 ? "id must be a positive number"
            : status is null ? "status must be active or deleted"
            : !multipliers.IsValid ? "multipliers must be between 0 and 100"
            : Reason is { Length: > 512 } ? "reason is longer than 512 characters"
            : null;
        return new TorrentProfile(Id, status ?? TorrentStatus.Active, Reason, multipliers, 0);
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
