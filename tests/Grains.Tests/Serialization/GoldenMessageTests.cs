using System.Text;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.TestSupport;

namespace Chihaya.Orleans.Grains.Tests.Serialization;

/// <summary>
/// Messages written by earlier versions must read the same in this one: during a rolling upgrade a new silo takes calls
/// and answers from old gateways and silos. <c>golden/</c> holds, for every serialized type and every set of member ids
/// it has had, the bytes Orleans wrote for a fixture value at the time, with what each member was. This version
/// must read every one of them. Goldens are never rewritten: a type that gains or loses a member gets a new golden
/// beside the old ones, named by its ids.
/// </summary>
public sealed class GoldenMessageTests
{
    private const string WriteVariable = "CHIHAYA_WRITE_GOLDEN";
    private const string BytesKey = "bytes";

    private static string GoldenFolder => Path.Combine(RepositoryPaths.Root, "tests", "Grains.Tests", "Serialization", "golden");

    /// <summary>"Chihaya.AnnounceCommand@0-1-2-3-4-5-6-7-11-12.golden": the type's alias and the ids it has.</summary>
    private static string GoldenName(Type type) =>
        $"{WireTypes.WireName(type)}@{string.Join('-', WireTypes.Members(type).Select(member => member.Id))}.golden";

    [Fact]
    public void EverySerializedTypeHasAFixture_WithEveryMemberSet()
    {
        var problems = new List<string>();
        foreach (var type in WireTypes.SerializedTypes)
        {
            if (!WireFixtures.ByType.TryGetValue(type, out var fixture))
            {
                problems.Add($"{type.FullName} has no fixture value: add one to WireFixtures.ByType, every member set to a value other than its default.");
                continue;
            }

            problems.AddRange(MemberValues.Flatten(fixture).Where(leaf => leaf.Value.IsDefault).Select(leaf =>
                $"{type.FullName}: the fixture leaves {leaf.Key} at its default ({leaf.Value.Text}); a golden could not tell it from a member that was lost. Give it another value in WireFixtures."));
        }

        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void SiteConflict_CrossesTheWire_WithTheMessageTheAdminApiAnswers()
    {
        var conflict = (SiteConflictException)WireFixtures.ByType[typeof(SiteConflictException)];

        var read = WireTypes.Serializer.Deserialize<Exception>(WireTypes.Serializer.SerializeToArray<Exception>(conflict));

        Assert.Equal(conflict.Message, Assert.IsType<SiteConflictException>(read).Message);
    }

    [Fact]
    public void SiteUnavailable_CrossesTheWire_AsItself_SoTheGatewayDoesNotTakeItForASiloGone()
    {
        var unavailable = (SiteUnavailableException)WireFixtures.ByType[typeof(SiteUnavailableException)];

        var read = WireTypes.Serializer.Deserialize<Exception>(WireTypes.Serializer.SerializeToArray<Exception>(unavailable));

        Assert.Equal(unavailable.Message, Assert.IsType<SiteUnavailableException>(read).Message);
    }

    [Fact]
    public void EveryTypeHasAGoldenOfItsCurrentMembers()
    {
        Directory.CreateDirectory(GoldenFolder);
        var write = Environment.GetEnvironmentVariable(WriteVariable) == "1";
        var missing = new List<string>();
        foreach (var type in WireTypes.SerializedTypes.Where(WireFixtures.ByType.ContainsKey))
        {
            var path = Path.Combine(GoldenFolder, GoldenName(type));
            if (File.Exists(path))
            {
                continue;
            }

            if (write)
            {
                // CreateNew: an existing golden is a record of what an earlier version wrote and is never replaced.
                using var file = new FileStream(path, FileMode.CreateNew);
                file.Write(Encoding.UTF8.GetBytes(Golden(type, WireFixtures.ByType[type])));
            }
            else
            {
                missing.Add(Path.GetFileName(path));
            }
        }

        Assert.True(missing.Count == 0, $"""
            No golden for the current members of: {string.Join(", ", missing)}.
            A new type, or a type whose member ids changed, needs a golden of what this version writes, so later versions
            are held to reading it. Set the fixture in WireFixtures, then run
              {WriteVariable}=1 dotnet test tests/Grains.Tests -c Release --filter GoldenMessageTests
            which only creates missing files (existing goldens are never touched), and commit them from {GoldenFolder}.
            """);
    }

    [Fact]
    public void EveryGoldenWrittenByThisOrAnEarlierVersionReadsTheSame()
    {
        var failures = new List<string>();
        var goldens = Directory.Exists(GoldenFolder) ? Directory.GetFiles(GoldenFolder, "*.golden") : [];
        Assert.NotEmpty(goldens);
        foreach (var path in goldens.Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileName(path);
            var alias = name[..name.IndexOf('@', StringComparison.Ordinal)];
            var lines = File.ReadAllLines(path)
                .Where(line => line.Length > 0 && !line.StartsWith('#'))
                .Select(line => line.Split(" = ", 2))
                .ToDictionary(parts => parts[0], parts => parts[1], StringComparer.Ordinal);

            object? value;
            try
            {
                value = WireTypes.Serializer.Deserialize<object>(Convert.FromHexString(lines[BytesKey]));
            }
            catch (Exception exception)
            {
                failures.Add($"{name}: this version cannot read it: {exception.GetType().Name}: {exception.Message}");
                continue;
            }

            if (value is null || WireTypes.WireName(value.GetType()) != alias)
            {
                failures.Add($"{name}: read as {(value is null ? "null" : WireTypes.WireName(value.GetType()))}, not {alias}: the alias now names another type.");
                continue;
            }

            var read = MemberValues.Flatten(value);
            foreach (var (member, written) in lines.Where(line => line.Key != BytesKey))
            {
                // A member the type no longer has was removed; the wire contract keeps its id retired.
                if (read.TryGetValue(member, out var leaf) && leaf.Text != written)
                {
                    failures.Add($"{name}: {member} was written as {written} and reads as {leaf.Text}.");
                }
            }

            // Members added since the golden was written must read as their defaults, as they do from an old silo.
            failures.AddRange(read.Where(leaf => !lines.ContainsKey(leaf.Key) && !leaf.Value.IsDefault).Select(leaf =>
                $"{name}: {leaf.Key} was not in the message, yet reads as {leaf.Value.Text} instead of its default."));
        }

        Assert.True(failures.Count == 0, $"""
            Messages written by an earlier version no longer read the same: a silo of this version would misread calls
            from the other during a rolling upgrade. Change the code back (an [Id], a member's type, an alias or enum
            number); never edit or delete a golden.
            {string.Join("\n", failures)}
            """);
    }

    /// <summary>The golden file for a value: the bytes Orleans writes for it as an object (so its alias is on the wire too), and its members.</summary>
    private static string Golden(Type type, object value)
    {
        var text = new StringBuilder($"""
            # {WireTypes.WireName(type)} ({type.FullName}) as Orleans wrote it, serialized as object so that the type's
            # alias is in the bytes too, with the value of each member. Written once by GoldenMessageTests; every later
            # version must read it the same. Never edit or delete this file.

            """);
        text.Append($"{BytesKey} = {Convert.ToHexStringLower(WireTypes.Serializer.SerializeToArray<object>(value))}\n");
        foreach (var (member, leaf) in MemberValues.Flatten(value))
        {
            text.Append($"{member} = {leaf.Text}\n");
        }

        return text.ToString();
    }
}
