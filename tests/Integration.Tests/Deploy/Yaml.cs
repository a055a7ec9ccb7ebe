using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.Serialization;

namespace Chihaya.Orleans.Integration.Tests.Deploy;

/// <summary>YAML documents as plain maps, lists and strings, and the few ways the checks walk them.</summary>
internal static class Yaml
{
    private static readonly IDeserializer Deserializer = new DeserializerBuilder().Build();

    /// <summary>Every document of a YAML stream (empty ones left out); a syntax error throws, naming <paramref name="source"/>.</summary>
    public static List<Dictionary<object, object?>> Documents(string text, string source)
    {
        var documents = new List<Dictionary<object, object?>>();
        var parser = new Parser(new StringReader(text));
        try
        {
            parser.Consume<StreamStart>();
            while (parser.Accept<DocumentStart>(out _))
            {
                var document = Deserializer.Deserialize<object?>(parser);
                switch (document)
                {
                    case null:
                        continue;
                    case Dictionary<object, object?> map:
                        documents.Add(map);
                        break;
                    default:
                        throw new InvalidDataException($"{source}: a document is not a map");
                }
            }
        }
        catch (YamlException exception)
        {
            throw new InvalidDataException($"{source}: not YAML: {exception.Message}", exception);
        }

        return documents;
    }

    public static object? Get(this Dictionary<object, object?>? map, string key) => map is not null && map.TryGetValue(key, out var value) ? value : null;

    public static Dictionary<object, object?>? Map(this Dictionary<object, object?>? map, string key) => map.Get(key) as Dictionary<object, object?>;

    public static Dictionary<object, object?>? Path(this Dictionary<object, object?>? map, params string[] keys) =>
        keys.Aggregate(map, (current, key) => current.Map(key));

    public static IEnumerable<Dictionary<object, object?>> Maps(this Dictionary<object, object?>? map, string key) =>
        (map.Get(key) as List<object?> ?? []).OfType<Dictionary<object, object?>>();

    public static IEnumerable<string> Strings(this Dictionary<object, object?>? map, string key) =>
        (map.Get(key) as List<object?> ?? []).Select(item => item?.ToString() ?? "");

    public static string? String(this Dictionary<object, object?>? map, string key) => map.Get(key)?.ToString();

    public static string Kind(this Dictionary<object, object?> document) => document.String("kind") ?? "";

    public static string Name(this Dictionary<object, object?> document) => document.Map("metadata").String("name") ?? "";

    /// <summary>A map's entries as strings, e.g. a ConfigMap's data or a selector's labels.</summary>
    public static Dictionary<string, string> StringMap(this Dictionary<object, object?>? map) =>
        (map ?? []).ToDictionary(entry => entry.Key.ToString()!, entry => entry.Value?.ToString() ?? "", StringComparer.Ordinal);
}
