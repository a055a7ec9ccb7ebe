using System.Text.Json;

namespace Chihaya.Orleans.Grains.Interfaces.Documents;

/// <summary>The seed file of the in-memory site: the users and torrents the embedded tracker starts with.</summary>
public sealed record SiteSeed
{
    public IReadOnlyList<UserDocument> Users { get; init; } = [];

    public IReadOnlyList<TorrentDocument> Torrents { get; init; } = [];

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { AllowTrailingCommas = true };

    /// <summary>Reads a seed file (camelCase JSON, as in <c>deploy/seed/demo.json</c>).</summary>
    public static SiteSeed Read(string path) =>
        JsonSerializer.Deserialize<SiteSeed>(File.ReadAllText(path), Json) ?? throw new InvalidDataException($"Seed file {path} is empty.");
}
