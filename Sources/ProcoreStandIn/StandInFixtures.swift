/// The one account the stand-in knows: a user, a company and its projects (the same as the Python stand-in's in
/// `tests/browser/fake_procore.py`, so a page shows the same either way).
enum StandInFixtures {
    struct User: Encodable {
        var id = 4321
        var login = "dev@stand-in.example"
        var name = "Dana Developer"
    }

    struct Company: Encodable {
        var id = 8
        var name = "Stand-in Construction Co."
        var isActive = true

        enum CodingKeys: String, CodingKey {
            case id, name
            case isActive = "is_active"
        }
    }

    struct Project: Encodable {
        struct CompanyReference: Encodable { var id: Int }

        var id: Int
        var name: String
        var company: CompanyReference
        var active = true
    }

    static let user = User()
    static let company = Company()
    static let projectNames = [
        "Harbor Bridge Retrofit",
        "Elm Street Library",
        "North Campus Dormitory",
        "Riverside Water Treatment",
        "Airport Terminal C",
        "Maple Grove School",
        "Downtown Transit Hub",
    ]
    static let projects = projectNames.enumerated().map { index, name in
        Project(id: 1001 + index, name: name, company: .init(id: company.id))
    }
}
