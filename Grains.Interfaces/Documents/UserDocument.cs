using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Interfaces.Model;

namespace Chihaya.Orleans.Grains.Interfaces.Documents;

/// <summary>A user as JSON: in the seed file and in the admin API.</summary>
public sealed record UserDocument
{
    public string? Passkey { get; init; }

    public long Id { get; init; }

    public decimal UploadMultiplier { get; init; } = 1m;

    public decimal DownloadMultiplier { get; init; } = 1m;

    public bool CanLeech { get; init; } = true;

    /// <summary>The profile this document describes, or an error for the admin API to return.</summary>
    public UserProfile ToProfile(out string? error)
    {
        var multipliers = new Multipliers(UploadMultiplier, DownloadMultiplier);
        error = Id <= 0 ? "id must be a positive number" : !multipliers.IsValid ? Multipliers.ValidRange : null;
        return new UserProfile(Id, multipliers, CanLeech);
    }

    /// <summary>The document for a stored profile.</summary>
    public static UserDocument From(string passkey, UserProfile profile) => new()
    {
        Passkey = passkey,
        Id = profile.UserId,
        UploadMultiplier = profile.Multipliers.Upload,
        DownloadMultiplier = profile.Multipliers.Download,
        CanLeech = profile.CanLeech,
    };
}
