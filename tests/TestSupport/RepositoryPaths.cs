namespace Chihaya.Orleans.TestSupport;

/// <summary>Finds the repository root (the folder holding the solution) and <c>../shared</c> beside it.</summary>
public static class RepositoryPaths
{
    public static string Root { get; } = FindRoot();

    /// <summary>The team's shared material: test vectors, load scripts, real-client scripts.</summary>
    public static string Shared => Path.GetFullPath(Path.Combine(Root, "..", "shared"));

    private static string FindRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "Chihaya.Orleans.sln")))
            {
                return folder.FullName;
            }
        }

        throw new DirectoryNotFoundException("Chihaya.Orleans.sln not found above " + AppContext.BaseDirectory);
    }
}
