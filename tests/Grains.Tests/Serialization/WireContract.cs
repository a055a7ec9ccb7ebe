using System.Reflection;
using System.Text;

namespace Chihaya.Orleans.Grains.Tests.Serialization;

/// <summary>
/// One line of the wire contract. <see cref="Owner"/> is a type, enum, grain interface or grain ("type Chihaya.Traffic");
/// <see cref="Key"/> is empty for the owner's own line, else what a peer of another version relies on ("id 2",
/// "value 3", "method Announce"), and <see cref="Shape"/> what that key means. A retired entry is gone from the code
/// but stays in the file so its key is never given another meaning.
/// </summary>
internal sealed record ContractEntry(string Owner, string Key, string Shape, bool Retired)
{
    /// <summary>
    /// Keys whose meaning other versions depend on: a member's id, an enum's number, a grain method's alias. The owner
    /// line and "serves" lines only describe (a CLR name may change freely under an alias).
    /// </summary>
    public bool IsReserved => Key.StartsWith("id ", StringComparison.Ordinal)
        || Key.StartsWith("value ", StringComparison.Ordinal)
        || Key.StartsWith("method ", StringComparison.Ordinal);

    public (string Owner, string Key) Identity => (Owner, Key);
}

/// <summary>
/// The committed record of everything this project puts on Orleans' wire (tests/Grains.Tests/Serialization/wire-contract.txt),
/// compared with what the code has now. Silos, gateways and clients of two versions run side by side during a rolling
/// upgrade, so what one version writes the other must read: an <c>[Id]</c>, an enum number or a method alias once
/// recorded keeps its meaning forever, also after its member is removed (the entry stays, marked retired).
/// </summary>
internal sealed class WireContract(IReadOnlyList<ContractEntry> entries)
{
    private const string Indent = "    ";
    private const string RetiredMark = "retired ";

    public static string FilePath => Path.Combine(TestSupport.RepositoryPaths.Root, "tests", "Grains.Tests", "Serialization", "wire-contract.txt");

    public const string UpdateVariable = "CHIHAYA_UPDATE_WIRE_CONTRACT";

    private static readonly string Header = """
        # The wire contract: every type, enum, grain interface and grain that Orleans serializes or addresses for this
        # project, as the code has it. New and old silos, gateways and clients run side by side during a rolling
        # upgrade, so each must read what the other writes. WireContractTests compares this file with the code.
        #
        # Rules:
        # * An id, enum value or method alias once listed keeps its name and type forever. To change a member's type,
        #   give the member a new [Id] (the next unused number) and leave the old one retired.
        # * A removed member, value, method or type stays here, marked "retired", so nothing reuses its key.
        # * Every serialized type, grain interface and grain method has an [Alias]; every grain a [GrainType]: their
        #   wire names must not follow CLR names, which refactoring changes.
        #
        # Additions and retirements are written by the test itself, never by hand:
        #   CHIHAYA_UPDATE_WIRE_CONTRACT=1 dotnet test tests/Grains.Tests -c Release --filter WireContractTests
        # then review the diff and commit it with the change. It refuses to write while a rule is broken.

        """;

    public IReadOnlyList<ContractEntry> Entries { get; } = entries;

    /// <summary>The contract as the code has it now, and the rules the code breaks regardless of the file (no alias, no grain type).</summary>
    public static (WireContract Contract, IReadOnlyList<string> Problems) FromCode()
    {
        var entries = new List<ContractEntry>();
        var problems = new List<string>();
        foreach (var type in WireTypes.SerializedTypes)
        {
            if (WireTypes.AliasOf(type) is null)
            {
                problems.Add($"{type.FullName} has [GenerateSerializer] but no [Alias]: add [Alias(\"Chihaya.{type.Name}\")] so that a rename or a move to another namespace keeps its wire name.");
            }

            var owner = "type " + WireTypes.WireName(type);
            entries.Add(new(owner, "", type.FullName!, Retired: false));
            entries.AddRange(WireTypes.Members(type).Select(member =>
                new ContractEntry(owner, "id " + member.Id, $"{member.Name}: {WireTypes.WireName(member.Type)}", Retired: false)));
        }

        foreach (var type in WireTypes.Enums)
        {
            if (WireTypes.AliasOf(type) is null)
            {
                problems.Add($"Enum {type.FullName} travels in a message but has no [Alias]: add [Alias(\"Chihaya.{type.Name}\")].");
            }

            var owner = "enum " + WireTypes.WireName(type);
            var underlying = WireTypes.WireName(Enum.GetUnderlyingType(type));
            entries.Add(new(owner, "", type.FullName!, Retired: false));
            entries.AddRange(type.GetFields(BindingFlags.Public | BindingFlags.Static).Select(value =>
                new ContractEntry(owner, "value " + Convert.ToInt64(value.GetRawConstantValue(), System.Globalization.CultureInfo.InvariantCulture), $"{value.Name}: {underlying}", Retired: false)));
        }

        foreach (var grain in WireTypes.GrainInterfaces)
        {
            if (WireTypes.AliasOf(grain) is null)
            {
                problems.Add($"Grain interface {grain.FullName} has no [Alias]: add [Alias(\"Chihaya.{grain.Name}\")]; without it the interface's grain interface type is its CLR name.");
            }

            var owner = "interface " + WireTypes.WireName(grain);
            entries.Add(new(owner, "", grain.FullName!, Retired: false));
            foreach (var method in grain.GetMethods())
            {
                var alias = WireTypes.AliasOf(method);
                if (alias is null)
                {
                    problems.Add($"{grain.FullName}.{method.Name} has no [Alias]: add [Alias(\"{method.Name}\")]; without it the method's wire id is a hash of its signature, which any parameter change alters.");
                }

                var (parameters, result) = WireTypes.Signature(method);
                var shape = $"({string.Join(", ", parameters.Select(WireTypes.WireName))}): {(result is null ? "none" : WireTypes.WireName(result))}";
                entries.Add(new(owner, "method " + (alias ?? method.Name), shape, Retired: false));
            }
        }

        foreach (var grain in WireTypes.GrainClasses)
        {
            var grainType = grain.GetCustomAttribute<GrainTypeAttribute>();
            if (grainType is null)
            {
                problems.Add($"Grain class {grain.FullName} has no [GrainType]: add [GrainType(\"{WireTypes.ConventionalGrainType(grain)}\")] (the name Orleans gives it now) so that renaming the class keeps its grains' ids.");
            }

            var name = grainType?.GetGrainType(null!, grain).ToString() ?? WireTypes.ConventionalGrainType(grain);
            var owner = "grain " + name;
            entries.Add(new(owner, "", grain.FullName!, Retired: false));
            entries.AddRange(WireTypes.GrainInterfaces.Where(grainInterface => grainInterface.IsAssignableFrom(grain)).Select(grainInterface =>
                new ContractEntry(owner, "serves " + WireTypes.WireName(grainInterface), "yes", Retired: false)));
        }

        return (new WireContract(entries), problems);
    }

    /// <summary>
    /// Holds the code's contract against this recorded one. Violations are what would break a rolling upgrade; the
    /// updated contract is this one with the code's additions and removals (removals marked retired).
    /// </summary>
    public (IReadOnlyList<string> Violations, WireContract Updated) Compare(WireContract current)
    {
        var recorded = Entries.ToDictionary(entry => entry.Identity);
        var now = current.Entries.ToDictionary(entry => entry.Identity);
        var violations = new List<string>();
        foreach (var entry in current.Entries)
        {
            if (entry.IsReserved && recorded.TryGetValue(entry.Identity, out var before) && before.Shape != entry.Shape)
            {
                violations.Add(before.Retired
                    ? $"{entry.Owner}: {entry.Key} belonged to \"{before.Shape}\", which was removed; the key is retired and must not come back as \"{entry.Shape}\". Use the next unused number instead."
                    : $"{entry.Owner}: {entry.Key} is \"{before.Shape}\" on the wire, the code now says \"{entry.Shape}\". A silo of the other version would read one as the other. Put \"{before.Shape}\" back under {entry.Key}; for a new name or type use a new, unused number (the old one is then retired).");
            }
        }

        // An enum value keeps its number: a name that moved is read as another value by the other version.
        var recordedValues = Entries.Where(entry => entry.Key.StartsWith("value ", StringComparison.Ordinal))
            .ToLookup(entry => (entry.Owner, Name: NameOf(entry.Shape)));
        foreach (var entry in current.Entries.Where(entry => entry.Key.StartsWith("value ", StringComparison.Ordinal)))
        {
            foreach (var before in recordedValues[(entry.Owner, NameOf(entry.Shape))].Where(before => before.Key != entry.Key))
            {
                violations.Add($"{entry.Owner}: {NameOf(entry.Shape)} was {before.Key} and is now {entry.Key}; the other version would read it as something else. Keep its number.");
            }
        }

        var updated = Entries.Select(entry => now.TryGetValue(entry.Identity, out var live) ? live : entry with { Retired = true })
            .Concat(current.Entries.Where(entry => !recorded.ContainsKey(entry.Identity)));
        return (violations, new WireContract(Ordered(updated)));
    }

    private static string NameOf(string shape) => shape[..shape.IndexOf(':', StringComparison.Ordinal)];

    private static List<ContractEntry> Ordered(IEnumerable<ContractEntry> entries) =>
        [.. entries.OrderBy(entry => entry.Owner, StringComparer.Ordinal)
            .ThenBy(entry => entry.Key.Length == 0 ? 0 : 1)
            .ThenBy(entry => entry.Key[..(entry.Key.IndexOf(' ', StringComparison.Ordinal) + 1)], StringComparer.Ordinal)
            .ThenBy(entry => long.TryParse(entry.Key[(entry.Key.IndexOf(' ', StringComparison.Ordinal) + 1)..], out var number) ? number : 0)
            .ThenBy(entry => entry.Key, StringComparer.Ordinal)];

    public string Format()
    {
        var text = new StringBuilder(Header);
        foreach (var entry in Ordered(Entries))
        {
            var retired = entry.Retired ? RetiredMark : "";
            text.Append(entry.Key.Length == 0 ? $"{retired}{entry.Owner} = {entry.Shape}\n" : $"{Indent}{retired}{entry.Key} = {entry.Shape}\n");
        }

        return text.ToString();
    }

    public static WireContract Parse(string text)
    {
        var entries = new List<ContractEntry>();
        string? owner = null;
        var lineNumber = 0;
        foreach (var line in text.Split('\n'))
        {
            lineNumber++;
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var indented = line.StartsWith(Indent, StringComparison.Ordinal);
            var body = line.Trim();
            var retired = body.StartsWith(RetiredMark, StringComparison.Ordinal);
            body = retired ? body[RetiredMark.Length..] : body;
            var separator = body.IndexOf(" = ", StringComparison.Ordinal);
            if (separator < 0 || (indented && owner is null))
            {
                throw new FormatException($"{FilePath}, line {lineNumber}: expected \"<key> = <meaning>\" under an owner line, got \"{line}\".");
            }

            var (key, shape) = (body[..separator], body[(separator + 3)..]);
            if (indented)
            {
                entries.Add(new(owner!, key, shape, retired));
            }
            else
            {
                owner = key;
                entries.Add(new(owner, "", shape, retired));
            }
        }

        return new WireContract(entries);
    }
}
