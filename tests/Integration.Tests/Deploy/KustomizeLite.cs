namespace Chihaya.Orleans.Integration.Tests.Deploy;

/// <summary>
/// What `kustomize build` makes of our kustomizations, for the part of kustomize they use, so that the manifests are
/// checked on a machine with no kubectl at all: resources and bases, generated ConfigMaps and Secrets (created or
/// merged; names kept without kustomize's hash suffix, which changes nothing the checks look at), images, namespace.
/// A field it does not know fails the build: a kustomization it cannot read fully is not checked at all.
/// </summary>
internal static class KustomizeLite
{
    private static readonly HashSet<string> KnownFields =
        ["apiVersion", "kind", "resources", "bases", "namespace", "images", "configMapGenerator", "secretGenerator"];

    public static List<Dictionary<object, object?>> Build(string folder)
    {
        var file = System.IO.Path.Combine(folder, "kustomization.yaml");
        var kustomization = Yaml.Documents(File.ReadAllText(file), file).Single();
        var unknown = kustomization.Keys.Select(key => key.ToString()!).Where(key => !KnownFields.Contains(key)).ToList();
        if (unknown.Count > 0)
        {
            throw new InvalidDataException($"{file}: KustomizeLite does not know {string.Join(", ", unknown)}; teach it, or the manifests go unchecked");
        }

        var documents = new List<Dictionary<object, object?>>();
        foreach (var entry in kustomization.Strings("bases").Concat(kustomization.Strings("resources")))
        {
            var path = System.IO.Path.GetFullPath(System.IO.Path.Combine(folder, entry));
            documents.AddRange(Directory.Exists(path) ? Build(path) : Yaml.Documents(File.ReadAllText(path), path));
        }

        Generate(documents, kustomization, "configMapGenerator", "ConfigMap", file);
        Generate(documents, kustomization, "secretGenerator", "Secret", file);

        foreach (var image in kustomization.Maps("images"))
        {
            var name = image.String("name");
            foreach (var container in documents.SelectMany(ManifestCheck.Containers))
            {
                var current = container.String("image") ?? "";
                if (ManifestCheck.ImageRepository(current) == name || current.Split(':')[0] == name)
                {
                    var newName = image.String("newName") ?? current.Split(':')[0];
                    var newTag = image.String("newTag") ?? (current.Contains(':') ? current.Split(':')[1] : null);
                    container["image"] = newTag is null ? newName : $"{newName}:{newTag}";
                }
            }
        }

        if (kustomization.String("namespace") is { } space)
        {
            foreach (var document in documents)
            {
                if (document.Map("metadata") is { } metadata)
                {
                    metadata["namespace"] = space;
                }
            }
        }

        return documents;
    }

    private static void Generate(List<Dictionary<object, object?>> documents, Dictionary<object, object?> kustomization, string field, string kind, string file)
    {
        foreach (var generator in kustomization.Maps(field))
        {
            var name = generator.String("name") ?? throw new InvalidDataException($"{file}: a {field} entry has no name");
            var data = new Dictionary<object, object?>();
            foreach (var literal in generator.Strings("literals"))
            {
                var equals = literal.IndexOf('=', StringComparison.Ordinal);
                if (equals <= 0)
                {
                    throw new InvalidDataException($"{file}: {name}: literal '{literal}' is not KEY=VALUE");
                }

                data[literal[..equals]] = literal[(equals + 1)..];
            }

            var existing = documents.FirstOrDefault(document => document.Kind() == kind && document.Name() == name);
            if (generator.String("behavior") is "merge" or "replace")
            {
                if (existing is null)
                {
                    throw new InvalidDataException($"{file}: {name}: behavior {generator.String("behavior")} but no {kind} {name} in the bases");
                }

                var merged = generator.String("behavior") == "merge" ? existing.Map("data") ?? [] : [];
                foreach (var (key, value) in data)
                {
                    merged[key] = value;
                }

                existing["data"] = merged;
                continue;
            }

            if (existing is not null)
            {
                throw new InvalidDataException($"{file}: {kind} {name} generated twice");
            }

            documents.Add(new Dictionary<object, object?>
            {
                ["apiVersion"] = "v1",
                ["kind"] = kind,
                ["metadata"] = new Dictionary<object, object?> { ["name"] = name },
                ["data"] = data,
            });
        }
    }
}
