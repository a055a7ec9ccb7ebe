using System.Reflection;
using Chihaya.Orleans.Grains.Interfaces.Messages;
using Chihaya.Orleans.Grains.Torrents;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Orleans.Serialization.TypeSystem;

namespace Chihaya.Orleans.Grains.Tests.Serialization;

/// <summary>
/// What the project puts on Orleans' wire, found by reflection over its assemblies, and named the way Orleans names
/// it there: a type with an <c>[Alias]</c> goes by its alias, a framework type by Orleans' short name.
/// </summary>
internal static class WireTypes
{
    private static readonly Assembly[] Assemblies = [typeof(AnnounceCommand).Assembly, typeof(TorrentGrain).Assembly];

    private static readonly ServiceProvider Services = new ServiceCollection()
        .AddSerializer(builder =>
        {
            foreach (var assembly in Assemblies)
            {
                builder.AddAssembly(assembly);
            }
        })
        .BuildServiceProvider();

    /// <summary>Orleans' own serializer, configured as a silo's is for these assemblies.</summary>
    public static Serializer Serializer { get; } = Services.GetRequiredService<Serializer>();

    private static readonly TypeConverter TypeNames = Services.GetRequiredService<TypeConverter>();

    private static IEnumerable<Type> AllTypes => Assemblies.SelectMany(assembly => assembly.GetTypes());

    /// <summary>Types with generated serializers: every one can be in a message between silos, gateways and versions.</summary>
    public static IReadOnlyList<Type> SerializedTypes { get; } =
        [.. AllTypes.Where(type => type.IsDefined(typeof(GenerateSerializerAttribute), inherit: false)).OrderBy(type => type.FullName, StringComparer.Ordinal)];

    public static IReadOnlyList<Type> GrainInterfaces { get; } =
        [.. AllTypes.Where(type => type.IsInterface && typeof(IAddressable).IsAssignableFrom(type)).OrderBy(type => type.FullName, StringComparer.Ordinal)];

    public static IReadOnlyList<Type> GrainClasses { get; } =
        [.. AllTypes.Where(type => type is { IsClass: true, IsAbstract: false } && typeof(Grain).IsAssignableFrom(type)).OrderBy(type => type.FullName, StringComparer.Ordinal)];

    /// <summary>
    /// Enums inside messages (members, grain method parameters and results, at any depth). Orleans writes an enum as
    /// its number, so the numbers are the contract.
    /// </summary>
    public static IReadOnlyList<Type> Enums { get; } = FindEnums();

    /// <summary>The name Orleans writes when it has to name the type: the alias, or the CLR name for a type without one.</summary>
    public static string WireName(Type type) => TypeNames.Format(type);

    public static string? AliasOf(MemberInfo member) => member.GetCustomAttribute<AliasAttribute>()?.Alias;

    /// <summary>The members a type's generated serializer writes, by their <c>[Id]</c>.</summary>
    public static IReadOnlyList<WireMember> Members(Type type) =>
        [.. type.GetMembers(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly)
            .Select(member => (member, id: member.GetCustomAttribute<IdAttribute>()))
            .Where(pair => pair.id is not null && pair.member is FieldInfo or PropertyInfo)
            .Select(pair => new WireMember(pair.id!.Id, pair.member))
            .OrderBy(member => member.Id)];

    /// <summary>The types a grain method sends and answers with: its parameters, and its result without the Task or ValueTask.</summary>
    public static (IReadOnlyList<Type> Parameters, Type? Result) Signature(MethodInfo method)
    {
        var result = method.ReturnType;
        var unwrapped = result.IsGenericType && (result.GetGenericTypeDefinition() == typeof(ValueTask<>) || result.GetGenericTypeDefinition() == typeof(Task<>))
            ? result.GetGenericArguments()[0]
            : result == typeof(ValueTask) || result == typeof(Task) || result == typeof(void) ? null : result;
        return ([.. method.GetParameters().Select(parameter => parameter.ParameterType)], unwrapped);
    }

    /// <summary>The grain type name Orleans would give the class by convention: lower case, without a "Grain" suffix.</summary>
    public static string ConventionalGrainType(Type grainClass)
    {
        var name = grainClass.Name.ToLowerInvariant();
        return name.EndsWith("grain", StringComparison.Ordinal) && name.Length > "grain".Length ? name[..^"grain".Length] : name;
    }

    private static List<Type> FindEnums()
    {
        var found = new SortedSet<Type>(Comparer<Type>.Create((a, b) => string.CompareOrdinal(a.FullName, b.FullName)));
        var roots = SerializedTypes.SelectMany(type => Members(type).Select(member => member.Type))
            .Concat(GrainInterfaces.SelectMany(grain => grain.GetMethods()).SelectMany(method =>
            {
                var (parameters, result) = Signature(method);
                return result is null ? parameters : parameters.Append(result);
            }));
        foreach (var root in roots)
        {
            Collect(root);
        }

        return [.. found];

        void Collect(Type type)
        {
            if (type.IsEnum)
            {
                found.Add(type);
            }
            else if (type.HasElementType)
            {
                Collect(type.GetElementType()!);
            }
            else if (type.IsGenericType)
            {
                foreach (var argument in type.GetGenericArguments())
                {
                    Collect(argument);
                }
            }
        }
    }
}

/// <summary>One member a generated serializer writes.</summary>
internal sealed record WireMember(uint Id, MemberInfo Member)
{
    public string Name => Member.Name;

    public Type Type => Member is FieldInfo asField ? asField.FieldType : ((PropertyInfo)Member).PropertyType;

    public object? ValueOf(object owner) => Member is FieldInfo asField ? asField.GetValue(owner) : ((PropertyInfo)Member).GetValue(owner);
}
